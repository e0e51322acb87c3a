#include "net/api/chat_page.hpp"

#include "net/api/gateway_impl.hpp"

namespace troupe::api {

// Plain HTML and JavaScript, no external resources: it must work on a machine with no network.
const std::string_view kChatPageHtml = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>troupe chat</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 0 auto; padding: 1rem; }
  #log { border: 1px solid #ccc; border-radius: 6px; padding: .5rem; min-height: 18rem; }
  .turn { margin: .4rem 0; white-space: pre-wrap; }
  .user { color: #034; font-weight: 600; }
  .assistant { color: #222; }
  .error { color: #a00; }
  form { display: flex; gap: .5rem; margin-top: .5rem; }
  #message { flex: 1; padding: .4rem; }
  #key { width: 12rem; }
</style>
</head>
<body>
<h1>troupe</h1>
<p id="model">loading…</p>
<div id="log" aria-live="polite"></div>
<form id="form">
  <input id="message" autocomplete="off" placeholder="Say something" required>
  <input id="key" type="password" placeholder="API key (if required)">
  <button id="send" type="submit">Send</button>
</form>
<script>
const log = document.getElementById("log");
const keyInput = document.getElementById("key");
keyInput.value = localStorage.getItem("troupe-key") || "";
const history = [];
let model = "";

function headers() {
  const h = {"Content-Type": "application/json"};
  if (keyInput.value) h["Authorization"] = "Bearer " + keyInput.value;
  return h;
}

function add(role, text) {
  const div = document.createElement("div");
  div.className = "turn " + role;
  div.textContent = text;
  log.appendChild(div);
  return div;
}

// /v1/models needs the API key when the server requires one: until a right key is entered it
// says so, and it asks again whenever the key changes.
async function loadModel() {
  const shown = document.getElementById("model");
  try {
    const r = await fetch("/v1/models", {headers: headers()});
    if (r.status === 401) {
      model = "";
      shown.textContent = keyInput.value ? "wrong API key" : "enter your API key";
      return;
    }
    const body = await r.json();
    model = body.data ? body.data[0].id : "";
    shown.textContent = model ? "model: " + model : "no model";
  } catch (e) {
    shown.textContent = "cannot reach the server";
  }
}

keyInput.addEventListener("change", () => {
  localStorage.setItem("troupe-key", keyInput.value);
  loadModel();
});

document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  localStorage.setItem("troupe-key", keyInput.value);
  const input = document.getElementById("message");
  const text = input.value;
  input.value = "";
  history.push({role: "user", content: text});
  add("user", text);
  const answer = add("assistant", "");
  const send = document.getElementById("send");
  send.disabled = true;  // one reply at a time, so the history stays in order
  try {
    await stream(answer);
  } catch (e) {  // the server went away, or sent something that is not JSON
    answer.className = "turn error";
    answer.textContent += (answer.textContent ? "\n" : "") + "error: " + e.message;
  }
  if (answer.classList.contains("error")) {
    history.pop();
  } else {
    history.push({role: "assistant", content: answer.textContent});
  }
  answer.dataset.done = "true";
  send.disabled = false;
  input.focus();
});

// Streams one answer to the history into the answer's div.
async function stream(answer) {
  const request = {model, messages: history, stream: true, max_tokens: 256};
  const r = await fetch("/v1/chat/completions",
                        {method: "POST", headers: headers(), body: JSON.stringify(request)});
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    answer.className = "turn error";
    answer.textContent = (body.error && body.error.message) || ("HTTP " + r.status);
    return;
  }
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, {stream: true});
    let end;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const chunk = JSON.parse(event.slice(6));
      if (chunk.error) { answer.className = "turn error"; answer.textContent += chunk.error.message; }
      for (const choice of chunk.choices || []) {
        if (choice.delta && choice.delta.content) answer.textContent += choice.delta.content;
      }
    }
  }
}
loadModel();
</script>
</body>
</html>
)html";

void GatewayCore::chat_page(Call& call) {
  reply_html(call, kChatPageHtml);
}

}  // namespace troupe::api
