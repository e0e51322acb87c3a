#pragma once
// <immintrin.h> for the AVX-512 kernels, included only by kernels/cpu sources. GCC 12's AVX-512
// intrinsics start from _mm512_undefined_*(), which -Wmaybe-uninitialized (and -Wuninitialized)
// misread as a use of an uninitialized value, so those warnings are off from here to the end of the
// including file.
#if defined(__AVX512F__)
#include <immintrin.h>
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
