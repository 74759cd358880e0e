"""`dlcv doctor`: one ✓/✗ line per check, exit 1 only when the config needs what is missing (on a CPU)."""
import pytest

pytestmark = pytest.mark.usefixtures("keras")


def _lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line[:1] in ("✓", "✗")]


def test_doctor_on_a_cpu_machine_reports_every_check_and_passes_the_quickstart(dlcv, tmp_path):
    result = dlcv("doctor", "--set", f"output_dir={tmp_path}")
    assert result.code == 0, result.err
    lines = _lines(result.out)
    text = "\n".join(lines)
    assert lines[0].startswith("✓ Python 3.")
    assert "Keras 3." in lines[1]
    assert "✓ TensorFlow 2." in text
    assert "cuDNN" in text or "CPU-only build" in text
    assert "✗ TensorFlow sees no GPU (training runs on the CPU) (optional)" in text
    assert "✓ XLA compiles on TensorFlow's /device:CPU:0" in text
    assert "✓ XLA compiles on JAX's cpu:0" in text
    assert f"✓ output folder {str(tmp_path)!r} is writable" in text
    assert any(line.startswith("✓") and "GiB free on the disk" in line for line in lines)
    assert any(line.startswith("✓") and "GiB of memory available" in line for line in lines)
    assert "ready: everything the config needs is here" in result.out


def test_doctor_fails_when_the_config_asks_for_a_gpu_that_is_not_there(dlcv, tmp_path):
    result = dlcv("doctor", "--set", "distribution=mirrored", "--set", f"output_dir={tmp_path}")
    assert result.code == 1
    assert ("✗ TensorFlow sees no GPU (training runs on the CPU) — needed: distribution: mirrored trains on "
            "every GPU of this machine") in result.out
    assert result.err.strip() == ("dlcv: 1 check(s) failed that the config needs: distribution: mirrored trains "
                                  "on every GPU of this machine")


def test_doctor_fails_on_an_output_folder_that_cannot_be_written(dlcv, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    result = dlcv("doctor", "--set", f"output_dir={blocker / 'runs'}")
    assert result.code == 1
    assert any(line.startswith("✗ output folder") and "not writable" in line and "needed: every run writes there"
               in line for line in _lines(result.out))


def test_doctor_says_how_to_fix_an_unwritable_mount_in_the_container(dlcv, tmp_path, monkeypatch):
    monkeypatch.setenv("DLCV_CONTAINER", "1")
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    result = dlcv("doctor", "--set", f"output_dir={blocker / 'runs'}")
    (line,) = [line for line in _lines(result.out) if line.startswith("✗ output folder")]
    assert '--user "$(id -u):$(id -g)"' in line and "sudo chown -R" in line
