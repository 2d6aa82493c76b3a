"""The web libraries the built slides and pages load, pinned and copied next to the pages.

nbconvert's templates load reveal.js, require.js, jQuery, MathJax, the Jupyter widgets HTML manager
and mermaid from public CDNs when a page is *opened*. The build instead fetches each library once
from the npm registry (``npm pack NAME@VERSION``, or a plain HTTPS download of the same tarball when
npm is missing), checks the tarball against the registry's sha512 pinned below, unpacks only the
files a page needs into ``build/cache/npm/``, and copies them into ``assets/`` beside the pages, with
each library's licence and an ``assets/LICENSES.md``. The pages then point at ``assets/...`` with
relative URLs (``EXPORTER_URLS``), so a built folder works from a USB stick with the network off.

To move a library to a new version: change ``version``, take ``integrity`` from
``npm view NAME@VERSION dist.integrity``, build, and run the offline browser test
(tests/test_offline_builds.py).
"""
from __future__ import annotations

import base64
import fnmatch
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REGISTRY = "https://registry.npmjs.org"
DOWNLOAD_TIMEOUT = 120          # seconds for one tarball


@dataclass(frozen=True)
class Asset:
    name: str                   # npm package name
    version: str                # exact version
    integrity: str              # the registry's dist.integrity (sha512, base64)
    folder: str                 # folder under assets/
    files: tuple[str, ...]      # paths inside the package: a file, a folder ("x/"), or a glob ("dist/*.woff")
    licence: str                # SPDX id from the package's package.json
    notice: str = ""            # licence text to write when the package ships no licence file

    @property
    def tarball(self) -> str:
        """The file name ``npm pack`` writes (``@scope/name`` -> ``scope-name-1.0.0.tgz``)."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    @property
    def registry_path(self) -> str:
        """The tarball's path on the registry: ``@scope/name/-/name-1.0.0.tgz``."""
        return f"{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


_MIT_REQUIREJS = """Copyright jQuery Foundation and other contributors, https://jquery.org/

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN
NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,
WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""

_BSD3_JUPYTER = """Copyright (c) Jupyter Development Team.
All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are permitted
provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this list of conditions
   and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list of
   conditions and the following disclaimer in the documentation and/or other materials provided
   with the distribution.
3. Neither the name of the copyright holder nor the names of its contributors may be used to endorse
   or promote products derived from this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR
IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND
FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE
USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""

ASSETS = (
    Asset("reveal.js", "4.6.1",
          "sha512-1CW0auaXNPmwmvQ7TwpszwVxMi2Xr5cTS3J3EBC/HHgbPF32Dn7aiu/LKWDOGjMbaDwKQiGmfqcoGQ74HUHCMw==",
          "reveal.js", ("dist/reveal.js", "dist/reveal.css", "dist/theme/white.css",
                        "dist/theme/fonts/source-sans-pro/", "plugin/notes/notes.js", "LICENSE"), "MIT"),
    # MathJax 2 (the MathJax.Hub API nbconvert's templates call), CommonHTML output only.
    Asset("mathjax", "2.7.9",
          "sha512-NOGEDTIM9+MrsqnjPEjVGNx4q0GQxqm61yQwSK+/5S59i26wId5IC5gNu9/bu8+CCVl5p9G2IHcAl/wJa+5+BQ==",
          "mathjax", ("MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions/", "jax/input/TeX/",
                      "jax/output/CommonHTML/", "jax/output/PreviewHTML/", "jax/element/",
                      "fonts/HTML-CSS/TeX/woff/", "localization/en/", "LICENSE"), "Apache-2.0"),
    Asset("requirejs", "2.3.8",
          "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
          "requirejs", ("require.js",), "MIT", notice=_MIT_REQUIREJS),
    Asset("jquery", "3.7.1",
          "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
          "jquery", ("dist/jquery.min.js", "LICENSE.txt"), "MIT"),
    # The widget renderer for ipywidgets 8 (jupyterlab_widgets 3.0.x), with its Font Awesome fonts.
    Asset("@jupyter-widgets/html-manager", "1.0.15",
          "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
          "html-manager", ("dist/embed-amd.js", "dist/*.woff2", "dist/*.woff", "dist/*.ttf",
                           "dist/embed.js.LICENSE.txt"), "BSD-3-Clause", notice=_BSD3_JUPYTER),
    # mermaid.min.js is a classic script: ES modules (nbconvert's choice) do not load from file://.
    Asset("mermaid", "11.10.0",
          "sha512-oQsFzPBy9xlpnGxUqLbVY8pvknLlsNIJ0NWwi8SUJjhbP1IT0E0o1lfhU4iYV3ubpy+xkzkaOyDUQMn06vQElQ==",
          "mermaid", ("dist/mermaid.min.js", "LICENSE"), "MIT"),
)

# Exporter settings that point every library at the copy in assets/, relative to the page.
REVEAL_URL_PREFIX = "assets/reveal.js"
REVEAL_THEME = "white"          # nbconvert's default, "simple", imports its fonts from Google
EXPORTER_URLS = {
    "require_js_url": "assets/requirejs/require.js",
    "jquery_url": "assets/jquery/dist/jquery.min.js",
    "mathjax_url": "assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
    "mermaid_js_url": "assets/mermaid/dist/mermaid.min.js",
    "mermaid_layout_elk_js_url": "",
    "jupyter_widgets_base_url": "assets/",
    "widget_renderer_url": "assets/html-manager/dist/embed-amd.js",
}


def sri_sha512(path: Path) -> str:
    """The Subresource-Integrity form of a file's sha512, as npm reports it: ``sha512-<base64>``."""
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def fetch(asset: Asset, cache_dir: Path) -> Path:
    """The verified tarball of ``asset`` in ``cache_dir``, fetched from the npm registry if missing.

    Uses ``npm pack`` when npm is installed (it follows the user's npm registry and proxy settings),
    otherwise downloads ``<registry>/<name>/-/<name>-<version>.tgz`` (registry from
    ``npm_config_registry``). Raises ``RuntimeError`` when the download fails or the sha512 differs
    from the pinned one.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / asset.tarball
    if target.exists() and sri_sha512(target) == asset.integrity:
        return target
    spec = f"{asset.name}@{asset.version}"
    npm = shutil.which("npm")
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:      # another build may fetch too
        fetched = Path(scratch) / asset.tarball
        try:
            if npm:
                print(f"  fetching {spec} with npm pack", flush=True)
                subprocess.run([npm, "pack", spec, "--pack-destination", scratch, "--silent"],
                               check=True, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT)
            else:
                registry = os.environ.get("npm_config_registry", DEFAULT_REGISTRY).rstrip("/")
                url = f"{registry}/{asset.registry_path}"
                print(f"  fetching {spec} from {url} (npm not found)", flush=True)
                with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
                    fetched.write_bytes(response.read())
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", "") or error
            raise RuntimeError(f"could not fetch {spec} from the npm registry: {detail}") from error
        got = sri_sha512(fetched) if fetched.exists() else "no file"
        if got != asset.integrity:
            raise RuntimeError(f"{spec}: sha512 {got} differs from the pinned {asset.integrity}")
        os.replace(fetched, target)
    return target


def wanted(asset: Asset, path: str) -> bool:
    """Whether ``path`` (inside the package) is one of the files the pages need."""
    return any(path == pattern or (pattern.endswith("/") and path.startswith(pattern))
               or fnmatch.fnmatchcase(path, pattern) for pattern in asset.files)


def unpack(asset: Asset, tarball: Path, dest: Path) -> int:
    """Extract the wanted regular files of ``tarball`` (below its ``package/`` folder) into ``dest``."""
    count = 0
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            top, _, path = member.name.partition("/")
            if not member.isfile() or not wanted(asset, path) or ".." in Path(path).parts:
                continue
            out = dest / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.extractfile(member).read())
            count += 1
    if count == 0:
        raise RuntimeError(f"{asset.name}@{asset.version}: none of {asset.files} found in {tarball.name}")
    return count


def unpacked(asset: Asset, cache_dir: Path) -> Path:
    """The folder of the asset's wanted files in the cache, made on first use."""
    folder = cache_dir / "unpacked" / f"{asset.folder}-{asset.version}"
    if not folder.is_dir():
        tarball = fetch(asset, cache_dir)
        with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
            unpack(asset, tarball, Path(scratch) / "files")
            if asset.notice:
                (Path(scratch) / "files" / "LICENSE").write_text(asset.notice, encoding="utf-8")
            folder.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(Path(scratch) / "files", folder)
            except OSError:                 # another build unpacked it first
                if not folder.is_dir():
                    raise
    return folder


def install(out_dir: Path, cache_dir: Path) -> Path:
    """Copy every asset into ``out_dir/assets/`` with its licence; write ``assets/LICENSES.md``."""
    assets_dir = out_dir / "assets"
    rows = []
    for asset in ASSETS:
        shutil.copytree(unpacked(asset, cache_dir), assets_dir / asset.folder, dirs_exist_ok=True)
        rows.append(f"| {asset.name} | {asset.version} | {asset.licence} | `{asset.folder}/LICENSE*` "
                    f"| `{asset.integrity[:23]}…` |")
    (assets_dir / "LICENSES.md").write_text(
        "# Third-party web libraries in this folder\n\nFetched from the npm registry when the site was "
        "built (tools/offline_assets.py); only the files the pages load were copied. Each folder holds "
        "the package's licence.\n\n| package | version | licence | licence file | sha512 |\n|---|---|---|---|---|\n"
        + "\n".join(rows) + "\n", encoding="utf-8")
    return assets_dir
