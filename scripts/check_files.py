"""pre-commit's file checks without its remote hook repository: YAML and TOML parse, no
merge-conflict markers, no file over 1 MiB. `python scripts/check_files.py FILE...`."""

import sys
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: TOML files are not parsed
    tomllib = None

MAX_BYTES = 1024 * 1024
CONFLICT = ("<<<<<<< ", ">>>>>>> ")


def problems(path: Path) -> list[str]:
    found = []
    if path.stat().st_size > MAX_BYTES:
        found.append(
            f"{path}: {path.stat().st_size} bytes, over {MAX_BYTES} (keep data out of git)"
        )
        return found
    text = path.read_text(errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(CONFLICT) or line == "=======":
            found.append(f"{path}:{number}: merge-conflict marker")
    try:
        if path.suffix in (".yaml", ".yml"):
            list(yaml.safe_load_all(text))
        elif path.suffix == ".toml" and tomllib is not None:
            tomllib.loads(text)
    except (yaml.YAMLError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        found.append(f"{path}: does not parse: {exc}")
    return found


def main(paths: list[str]) -> int:
    found = [p for name in paths if Path(name).is_file() for p in problems(Path(name))]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
