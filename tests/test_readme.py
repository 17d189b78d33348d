"""The README's first example must run as written."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_first_look_example_runs_as_written(tmp_path, monkeypatch):
    text = README.read_text()
    section = text[text.index("## A first look"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)  # it writes model.npz
    namespace = {}
    exec(compile(code, "README.md (A first look)", "exec"), namespace)
    assert (tmp_path / "model.npz").exists()
    assert namespace["Z"].shape == (360, 32)


def test_readme_starts_with_the_two_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    assert "pip install ." in blocks[0] and "aenumpy train" in blocks[0]
    assert 'pip install ".[dev]"' in blocks[1] and "pytest" in blocks[1]
