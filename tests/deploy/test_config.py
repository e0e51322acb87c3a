"""Settings files and variables for troupe serve and troupe worker (cli/settings): every flag of
the command's flag table, as the binary prints it in --help, round-trips through a config key
and through its TROUPE_<FLAG> variable (--print-config shows the merged settings); the command
line wins over the variable, which wins over the file; a bad file or value is one line naming
the key and the file, exit 2. The example files in configs/ are valid for their commands."""
import os
import pathlib
import re
import subprocess

import pytest
import yaml

TROUPE = os.environ["TROUPE_BIN"]
CONFIGS = pathlib.Path(__file__).resolve().parents[2] / "configs"
SECRETS = {"api-key", "admin-api-key"}
NOT_SETTINGS = {"config", "print-config"}


def flag_table(command):
    """(name, takes_value, repeatable) for each flag `troupe COMMAND --help` lists."""
    text = subprocess.run([TROUPE, command, "--help"], capture_output=True, text=True,
                          check=True).stdout
    flags = []
    for line in text.splitlines():
        m = re.match(r"^  --([a-z0-9-]+)(?: ([A-Z|a-z:]+))?\s{2,}(.*)$", line)
        if m and m.group(1) != "help":
            flags.append((m.group(1), m.group(2) is not None, "(repeatable)" in m.group(3)))
    assert len(flags) > 10, text
    return flags


def run(command, *args, env=None):
    merged = {k: v for k, v in os.environ.items() if not k.startswith("TROUPE_") or k in
              ("TROUPE_HOME", "TROUPE_BIN")}
    merged.update(env or {})
    return subprocess.run([TROUPE, command, *args], capture_output=True, text=True, env=merged,
                          timeout=60)


def sample_settings(flags):
    """A value for every setting: booleans on, repeatable ones two values, others one."""
    settings = {}
    for name, takes_value, repeatable in flags:
        if name in NOT_SETTINGS:
            continue
        if not takes_value:
            settings[name] = True
        elif repeatable:
            settings[name] = [f"{name}-one", f"{name}-two"]
        else:
            settings[name] = f"value-of-{name}"
    return settings


def shown(settings):
    """The settings as --print-config shows them: secrets redacted."""
    out = {}
    for name, value in settings.items():
        if name in SECRETS:
            value = ["<redacted>"] * len(value) if isinstance(value, list) else "<redacted>"
        out[name] = value
    return out


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_every_flag_round_trips_through_a_config_key(command, tmp_path):
    flags = flag_table(command)
    settings = sample_settings(flags)
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump(settings))
    result = run(command, "--config", str(config), "--print-config")
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed == shown(settings)
    for secret in SECRETS & settings.keys():
        for value in settings[secret]:
            assert value not in result.stdout  # secrets never printed
    # What --print-config prints is itself a config file with the same settings.
    again = tmp_path / "printed.yaml"
    non_secret = {k: v for k, v in settings.items() if k not in SECRETS}
    again.write_text(yaml.safe_dump(non_secret))
    result = run(command, "--config", str(again), "--print-config")
    assert yaml.safe_load(result.stdout) == non_secret


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_every_flag_round_trips_through_its_variable(command):
    flags = flag_table(command)
    env = {}
    expected = {}
    for name, takes_value, repeatable in flags:
        if name in NOT_SETTINGS:
            continue
        variable = "TROUPE_" + name.upper().replace("-", "_")
        if takes_value:
            env[variable] = f"env-{name}"
            expected[name] = [f"env-{name}"] if repeatable else f"env-{name}"
        else:
            env[variable] = "true"
            expected[name] = True
    result = run(command, "--print-config", env=env)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == shown(expected)


def test_the_command_line_wins_over_the_variable_which_wins_over_the_file(tmp_path):
    config = tmp_path / "serve.yaml"
    config.write_text("port: 8001\nmax-num-seqs: 16\nrouting: random\nno-local-replica: true\n")
    result = run("serve", "--print-config", "--max-num-seqs", "32", "--config", str(config),
                 env={"TROUPE_MAX_NUM_SEQS": "64", "TROUPE_PORT": "8002",
                      "TROUPE_NO_LOCAL_REPLICA": "false"})
    assert result.returncode == 0, result.stderr
    settings = yaml.safe_load(result.stdout)
    assert settings == {"port": "8002", "max-num-seqs": "32", "routing": "random"}
    # TROUPE_CONFIG names the file when --config does not.
    result = run("serve", "--print-config", env={"TROUPE_CONFIG": str(config)})
    assert yaml.safe_load(result.stdout)["routing"] == "random"


@pytest.mark.parametrize("content, message", [
    ("prot: 8000\n", "unknown key 'prot' in {file}"),
    ("port: [8000]\n", "key 'port' in {file} must be one value (N)"),
    ("port: 70000\n", "key 'port' in {file} must be in [0, 65535], got 70000"),
    ("port: eighty\n", "key 'port' in {file} needs an integer, got 'eighty'"),
    ("protect-metrics: maybe\n", "key 'protect-metrics' in {file} must be true or false"),
    ("api-key: {a: 1}\n", "key 'api-key' in {file} must be a value or a list of values"),
    ("routing: fastest\n", "key 'routing' in {file} must be one of"),
    ("kv-cache-memory: lots\n", "key 'kv-cache-memory' in {file}"),
    ("port:\n", "key 'port' in {file} has no value"),
    ("config: other.yaml\n", "unknown key 'config' in {file}"),
    ("- port\n", "config file '{file}' must be a map of settings"),
    ("port: [\n", "config file '{file}' is not valid YAML"),
])
def test_a_bad_file_is_one_line_naming_the_key_and_the_file(tmp_path, content, message):
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    result = run("serve", "--config", str(config))
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message.format(file=config) in lines[0], lines[0]


def test_a_missing_file_and_a_bad_variable_are_named(tmp_path):
    result = run("serve", "--config", str(tmp_path / "none.yaml"))
    assert result.returncode == 2
    assert "cannot read the config file" in result.stderr and "none.yaml" in result.stderr
    result = run("serve", env={"TROUPE_PORT": "99999"})
    assert result.returncode == 2
    assert result.stderr.strip() == "troupe: TROUPE_PORT must be in [0, 65535], got 99999"
    # A variable for a flag the command does not have is not its setting: ignored.
    result = run("worker", "--print-config", env={"TROUPE_PROTECT_METRICS": "x"})
    assert result.returncode == 0 and yaml.safe_load(result.stdout) == {}, result


@pytest.mark.parametrize("command, name", [("serve", "serve.yaml"),
                                           ("serve", "cluster-front.yaml"),
                                           ("worker", "replica.yaml")])
def test_the_example_configs_are_valid_for_their_commands(command, name):
    result = run(command, "--config", str(CONFIGS / name), "--print-config")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == {
        k: (v if isinstance(v, (bool, list)) else str(v))
        for k, v in yaml.safe_load((CONFIGS / name).read_text()).items()}
