"""How fast the course's widgets answer, in one run (issue 17, "Sliders").

1. Kernel side: each explorer's redraw after a slider step (``controls[name].value = v``: compute,
   update the artists, render, PNG into the widget), beside building and rendering a bare
   matplotlib figure of the same size and panels (``Figure`` + ``subplots`` + ``savefig`` PNG at the
   same dpi, no layout engine). The two are timed alternately, medians over ``--redraws`` steps.
2. The live training plot's overhead: ``train_ppo`` on CartPole-v1 with and without
   ``LivePlot.for_ppo`` as its callback, inside a real Jupyter kernel (the plot displays there).
3. Key press to pixels in JupyterLab + Chromium: a notebook with every explorer, the harness of
   ``tests/test_browser.py``; a slider handle is focused, ArrowRight pressed, and the time from the
   key event to the redrawn image decoded and painted is taken in the page (``performance.now()``).

    .venv/bin/python bench/widgets_latency.py    # ~4 min on 2 cores; nices itself after the browser part
    .venv/bin/python bench/widgets_latency.py --parts kernel
"""
from __future__ import annotations

import argparse
import io
import os
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Each explorer: how to build it in a notebook, the slider stepped, and its figure's panels and size.
EXPLORERS = {
    "clipping": ("clipping_explorer()", "eps", (1, 1)),
    "clipping + batch": ("clipping_explorer(ratios=np.exp(np.random.default_rng(0).normal(0, 0.15, 512)), "
                         "advantages=np.random.default_rng(1).normal(size=512))", "eps", (1, 2)),
    "GAE": ("gae_explorer(gamma=0.9)", "gamma", (2, 1)),
    "KL": ("kl_explorer()", "beta", (1, 2)),
    "preference loss": ("preference_loss_explorer()", "beta", (2, 2)),
    "overoptimization": ("overoptimization_explorer([{'label': f'{b:g}', 'kl': 3 / b, 'proxy': 1 - b, "
                         "'true': 0.5 - (1 - b) ** 2, 'samples': ['a review']} for b in np.linspace(1, 0.05, 30)])",
                         "run", (1, 2)),
}
SETUP = ("import numpy as np\nfrom rlft_core.widgets import (clipping_explorer, gae_explorer, kl_explorer, "
         "overoptimization_explorer,\n                               preference_loss_explorer)")


def slider_walk(control, n):
    """``n`` values one slider step apart, upwards from the current value (as ArrowRight would)."""
    if hasattr(control, "options"):
        options = list(control.options)
        start = options.index(control.value)
        return [options[(start + i) % len(options)] for i in range(1, n + 1)]
    if type(control).__name__ == "FloatLogSlider":
        start = np.log10(control.value)
        return [float(10 ** min(start + i * control.step, control.max)) for i in range(1, n + 1)]
    return [min(control.value + i * control.step, control.max) for i in range(1, n + 1)]


def bare_figure(nrows, ncols, figsize, dpi):
    figure = Figure(figsize=figsize, dpi=dpi)
    figure.subplots(nrows, ncols)
    figure.savefig(io.BytesIO(), format="png", dpi=dpi)


def kernel_side(n_redraws):
    from rlft_core.widgets import (clipping_explorer, gae_explorer, kl_explorer,  # noqa: F401
                                   overoptimization_explorer, preference_loss_explorer)
    rows = []
    for name, (source, control_name, (nrows, ncols)) in EXPLORERS.items():
        explorer = eval(source)
        control = explorer.controls[control_name]
        size, dpi = tuple(explorer.figure.get_size_inches()), explorer.figure.dpi
        full_before = explorer.n_full_draws
        redraw, bare = [], []
        for value in slider_walk(control, n_redraws):
            start = time.perf_counter()
            control.value = value
            redraw.append(time.perf_counter() - start)
            start = time.perf_counter()
            bare_figure(nrows, ncols, size, dpi)
            bare.append(time.perf_counter() - start)
        rows.append({"explorer": name, "panels": f"{nrows}×{ncols}", "size": f"{size[0]:g}×{size[1]:g} in",
                     "redraw_ms": 1e3 * statistics.median(redraw), "bare_ms": 1e3 * statistics.median(bare),
                     "full_draws": explorer.n_full_draws - full_before, "n": len(redraw)})
    return rows


LIVE_CELL = """
import json, statistics, time
from rlft_core.ppo import PPOConfig, train_ppo
from rlft_core.widgets import LivePlot
config = PPOConfig(total_timesteps={steps})
train_ppo("CartPole-v1", PPOConfig(total_timesteps=2048), seed=99)          # warm-up
plain, live_runs, inside, draw_s, draws = [], [], [], [], []
for seed in range({repeats}):
    start = time.perf_counter(); train_ppo("CartPole-v1", config, seed=seed); plain.append(time.perf_counter() - start)
    live, spent = LivePlot.for_ppo(total=config.total_timesteps), [0.0]
    def callback(record):                    # the live plot, timed from inside the training loop
        entered = time.perf_counter(); live(record); spent[0] += time.perf_counter() - entered
    start = time.perf_counter(); train_ppo("CartPole-v1", config, callback=callback, seed=seed)
    entered = time.perf_counter(); live.close(); spent[0] += time.perf_counter() - entered
    live_runs.append(time.perf_counter() - start); inside.append(spent[0])
    draw_s.append(live.draw_seconds); draws.append(live.n_draws)
print("RESULT" + json.dumps({{"plain": plain, "live": live_runs, "inside": inside, "draw_s": draw_s, "draws": draws}}))
"""


def live_overhead(steps, repeats):
    """Run the PPO timings in a Jupyter kernel, where the live plot really displays."""
    from nbclient import NotebookClient
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LIVE_CELL.format(steps=steps,
                                                                                           repeats=repeats))])
    with tempfile.TemporaryDirectory() as folder:
        NotebookClient(notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": folder}},
                       env={"PYTHONPATH": str(ROOT)}).execute()
    text = "".join(o.get("text", "") for o in notebook.cells[0].outputs if o.get("name") == "stdout")
    result = json.loads(text.split("RESULT", 1)[1])
    plain, live = statistics.median(result["plain"]), statistics.median(result["live"])
    return {"steps": steps, "repeats": repeats, "plain_s": plain, "live_s": live,
            "overhead": live / plain - 1, "inside_s": statistics.median(result["inside"]),
            "draw_s": statistics.median(result["draw_s"]),
            "draws": statistics.median(result["draws"])}


# In the page: note the time of the key event, then of the image's new src being decoded and painted.
WATCH_JS = """(cellIndex) => {
  const cell = document.querySelectorAll('.jp-CodeCell')[cellIndex];
  const img = cell.querySelector('.jp-OutputArea-output img');
  window.__press = null; window.__arrived = null; window.__painted = null;
  const before = img.src;
  document.addEventListener('keydown', () => { window.__press = performance.now(); },
                            {capture: true, once: true});
  // painted: the image decoded, then the next frame rendered (a task queued from its rAF runs after it)
  const observer = new MutationObserver(() => {
    if (img.src === before) return;
    observer.disconnect();
    window.__arrived = performance.now();
    img.decode().catch(() => null).then(() => requestAnimationFrame(() =>
      setTimeout(() => { window.__painted = performance.now(); }, 0)));
  });
  observer.observe(img, {attributes: true, attributeFilter: ['src']});
}"""


def browser_latency(presses_per_explorer):
    sys.path.insert(0, str(ROOT / "tests"))
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM, CHROMIUM_ARGS, running_lab

    cells = [nbformat.v4.new_code_cell(SETUP)]
    cells += [nbformat.v4.new_code_cell(source) for source, _, _ in EXPLORERS.values()]
    latencies = {name: [] for name in EXPLORERS}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "course"
        root.mkdir()
        kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernelspec}),
                       root / "sliders.ipynb")
        with running_lab(root, Path(folder)) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                 chromium_sandbox=False, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{server.url}/lab/tree/sliders.ipynb?reset&token={server.token}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible", timeout=90_000)
            _wait(lambda: any(k["execution_state"] == "idle" for k in server.api("/api/kernels")), 90)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            code_cells = page.locator(".jp-CodeCell")
            _wait(lambda: code_cells.nth(len(cells) - 1).locator(".noUi-handle, .widget-slider").count() > 0, 180)

            def idle():
                return all(k["execution_state"] == "idle" for k in server.api("/api/kernels"))

            for index, name in enumerate(EXPLORERS, start=1):
                cell = code_cells.nth(index)
                cell.scroll_into_view_if_needed()
                handle = cell.locator(".noUi-handle").first
                cell.locator(".jp-OutputArea-output img").first.wait_for(state="visible")
                for press in range(presses_per_explorer + 1):             # the first one warms up
                    _wait(idle, 60)
                    time.sleep(0.3)
                    page.evaluate(WATCH_JS, index)
                    handle.focus()
                    handle.press("ArrowRight")
                    page.wait_for_function("window.__painted !== null && window.__press !== null")
                    if press:
                        latencies[name].append(page.evaluate("[window.__arrived - window.__press, "
                                                             "window.__painted - window.__press]"))
            browser.close()
    return latencies


def _wait(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s")
        time.sleep(0.2)


def print_kernel_side(n_redraws):
    print("## Kernel side: redraw after one slider step vs a bare figure of the same size and panels\n")
    print(f"medians over {n_redraws} steps, timed alternately\n")
    print("| explorer | panels | size | redraw (ms) | bare figure (ms) | redraw / bare | full re-renders |")
    print("|---|---|---|---:|---:|---:|---:|")
    for row in kernel_side(n_redraws):
        print(f"| {row['explorer']} | {row['panels']} | {row['size']} | {row['redraw_ms']:.1f} | "
              f"{row['bare_ms']:.1f} | {row['redraw_ms'] / row['bare_ms']:.2f} | {row['full_draws']} of {row['n']} |")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redraws", type=int, default=20, help="slider steps per explorer (kernel side)")
    parser.add_argument("--presses", type=int, default=4, help="ArrowRight presses per explorer (browser)")
    parser.add_argument("--ppo-steps", type=int, default=16_384, help="PPO CartPole steps per run")
    parser.add_argument("--ppo-repeats", type=int, default=5)
    parser.add_argument("--parts", default="kernel,live,browser", help="comma-separated subset to run")
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    if "browser" in parts:
        latencies = browser_latency(args.presses)
        print("\n## Key press to painted figure, JupyterLab + Chromium (ArrowRight on a focused slider)\n")
        print("new PNG in the page: its src changed; painted: decoded and the next frame rendered\n")
        print("| explorer | presses | new PNG in the page, median (ms) | painted, median (ms) | painted, max (ms) |")
        print("|---|---:|---:|---:|---:|")
        rows = {**latencies, "**all**": [pair for pairs in latencies.values() for pair in pairs]}
        for name, pairs in rows.items():
            arrived, painted = zip(*pairs)
            print(f"| {name} | {len(pairs)} | {statistics.median(arrived):.0f} | {statistics.median(painted):.0f} "
                  f"| {max(painted):.0f} |")
        sys.stdout.flush()
    # The browser part above runs at normal priority, as a student's browser and kernel would; the
    # CPU-heavy parts below are niced, which slows the two sides of each comparison alike.
    os.nice(10)
    if "kernel" in parts:
        print_kernel_side(args.redraws)
    if "live" in parts:
        live = live_overhead(args.ppo_steps, args.ppo_repeats)
        print(f"\n## Live plot on PPO CartPole-v1 ({live['steps']:,} steps, median of {live['repeats']} runs, "
              "in a Jupyter kernel)\n")
        print(f"without the callback {live['plain_s']:.2f} s, with LivePlot.for_ppo {live['live_s']:.2f} s: "
              f"wall-time overhead **{100 * live['overhead']:+.1f} %**. Time spent inside the callback "
              f"(and its close()): {live['inside_s']:.2f} s = **{100 * live['inside_s'] / live['plain_s']:.1f} %** "
              f"of the run without it, of which drawing {live['draw_s']:.2f} s ({live['draws']:.0f} draws) (medians)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
