"""bench/store_growth.py runs end to end on a small preload and prints its figures.

It starts a whole platform on a vhost of its own (RabbitMQ with the management plugin), so
this takes about a minute. Nothing here depends on how fast anything was.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
FIGURES = ("intake e2e", "intake HTTP", "failover delay", "list all p1", "list all p20",
           "list reach p1", "list reach p20")


def test_the_store_growth_benchmark_prints_its_figures_for_each_size():
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "store_growth.py"), "--sizes", "0", "300",
         "--counties", "1", "--per-county", "40", "--seconds", "2", "--failover-rate", "5",
         "--listing-calls", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    lines = run.stdout.splitlines()

    assert any(line.strip().startswith("300 written") for line in lines)
    for size in (0, 300):  # each size's figures, in this order, right after its heading
        detail = lines.index(f"size {size}:")
        shown = lines[detail + 1:detail + 1 + len(FIGURES)]
        assert all(line.split("ok")[0].strip() == figure
                   for line, figure in zip(shown, FIGURES)), shown

    table = {line[:22].strip(): [word for word in line[22:].split() if word != "!"]
             for line in lines if line[:22].strip() in FIGURES and not line.startswith(" ")}
    assert set(table) == set(FIGURES)
    for row in table.values():  # p99 at each size, then the ratio: numbers (a call that
        # failed under load makes a p99 inf and a ratio of two infs nan: a figure too)
        assert len(row) == 3 and not any(float(value) < 0 for value in row), row
