"""ci/packages.txt is complete: everything the project loads comes from a package it lists.

A machine keeps whatever was ever installed on it by hand, so a green run there
proves nothing about a new Debian 12 machine.  These tests collect every file
the build, the tests and the run modes really load, map each to its Debian
package with `dpkg -S`, and fail naming any package that is neither listed in
ci/packages.txt, nor pulled in by the dependencies of a listed package, nor of
priority required/important (what every Debian system has).

What is collected (each derived from the project, not from a hand list):
- the shared objects of every ELF file the builds made (`ldd`);
- every library the sources name by absolute path, and every object an
  LD_PRELOADed child really maps (/proc/self/maps of a child run with it);
- the allocator table (`mapbench list --allocators`): the package each
  allocator comes from must be listed, installed or not;
- every header the compiler read outside the project (the builds' .d files)
  and every file CMake found outside the project (CMakeCache.txt);
- every command the harness, the scripts and the tests call;
- every module the tests import, as /usr/bin/python3 finds it.

`python3 tests/test_packages.py` prints the packages found, file by file kind.
"""
import ast
import functools
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("MB_BUILD_DIR", ROOT / "build"))
BUILD_DIRS = [pathlib.Path(os.environ[v]) if os.path.isabs(os.environ.get(v, "")) else ROOT / os.environ[v]
              for v in ("MB_BUILD_DIR", "MB_ASAN_BUILD_DIR", "MB_TSAN_BUILD_DIR", "MB_PLANT_BUILD_DIR")
              if os.environ.get(v)] or [BUILD]
PACKAGES_TXT = ROOT / "ci" / "packages.txt"
SOURCE_DIRS = ["harness", "impls", "workloads", "tests", "bench", "plots", "ci"]


# ---- the list and the installed system ---------------------------------------

def listed_packages(path=PACKAGES_TXT):
    """{package: why} from ci/packages.txt."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, why = line.partition(" ")
            out[name] = why.strip()
    return out


def _strip_arch(p):
    return p.split(":", 1)[0]


@functools.lru_cache(maxsize=None)
def installed_db():
    """{package: (priority, [[alternative, ...], ...] depends, [provides])} of installed packages."""
    fmt = "${Package}\\t${db:Status-Abbrev}\\t${Priority}\\t${Pre-Depends}\\t${Depends}\\t${Provides}\\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], check=True, capture_output=True,
                         text=True).stdout
    db = {}
    for line in out.splitlines():
        name, status, prio, pre, dep, prov = (line.split("\t") + [""] * 6)[:6]
        if not status.startswith("ii"):
            continue
        groups = []
        for field in (pre, dep):
            for group in filter(None, (g.strip() for g in field.split(","))):
                groups.append([re.sub(r"\s*\(.*?\)|:\w+", "", alt).strip()
                               for alt in group.split("|")])
        provides = [re.sub(r"\s*\(.*?\)", "", p).strip() for p in prov.split(",") if p.strip()]
        db[name] = (prio, groups, provides)
    return db


def _providers():
    prov = {}
    for name, (_, _, provides) in installed_db().items():
        for p in provides:
            prov.setdefault(p, []).append(name)
    return prov


def allowed_packages(listed):
    """Listed packages, their dependency closure, and every required/important package.

    A dependency 'a | b' counts as its first alternative, what apt installs on a
    machine that has neither; a virtual one as its installed providers."""
    db, prov = installed_db(), _providers()
    allowed = {p for p, (prio, _, _) in db.items() if prio in ("required", "important")}
    todo = [p for p in listed if p in db]
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for group in db[p][1]:
            first = group[0]
            todo.extend([first] if first in db else prov.get(first, []))
    return allowed | seen | set(listed)


def owners(paths):
    """{path: [packages]} from dpkg -S; a path no package ships maps to []."""
    paths = sorted(set(map(str, paths)))
    result = {p: [] for p in paths}
    for i in range(0, len(paths), 500):
        chunk = []
        for p in paths[i:i + 500]:
            chunk += _dpkg_names(p)
        out = subprocess.run(["dpkg", "-S", *chunk], capture_output=True, text=True).stdout
        found = {}
        for line in out.splitlines():
            if line.startswith("diversion ") or ": " not in line:
                continue
            pkgs, _, path = line.partition(": ")
            found.setdefault(path, []).extend(_strip_arch(x.strip()) for x in pkgs.split(","))
        for p in paths[i:i + 500]:
            for name in _dpkg_names(p):
                result[p] += found.get(name, [])
    return result


def _dpkg_names(path):
    """The names dpkg may have recorded for path: itself, its real path, /lib vs /usr/lib."""
    names = {path, os.path.realpath(path)}
    for n in list(names):
        if n.startswith("/usr/lib/") or n.startswith("/usr/bin/") or n.startswith("/usr/sbin/"):
            names.add(n[4:])
        elif n.startswith(("/lib/", "/lib64/", "/bin/", "/sbin/")):
            names.add("/usr" + n)
    return sorted(names)


def _outside_project(path):
    p = os.path.realpath(path)
    return not (p.startswith(str(ROOT) + "/") or any(p.startswith(str(b.resolve()) + "/")
                                                     for b in BUILD_DIRS) or p.startswith("/tmp/"))


# ---- what the project loads ----------------------------------------------------

def built_elf_files():
    files = []
    for b in BUILD_DIRS:
        if not b.is_dir():
            continue
        for p in b.rglob("*"):
            if p.is_file() and not p.is_symlink() and "CMakeFiles" not in p.parts and \
               "gocache" not in p.parts and "gopath" not in p.parts:
                with open(p, "rb") as f:
                    if f.read(4) == b"\x7fELF" and (os.access(p, os.X_OK) or ".so" in p.name):
                        files.append(p)
    return files


def ldd_libraries(elf):
    """(libraries, missing sonames) that elf loads."""
    out = subprocess.run(["ldd", str(elf)], capture_output=True, text=True).stdout
    libs, missing = [], []
    for line in out.splitlines():
        if "=> not found" in line:
            missing.append(line.split()[0])
        m = re.search(r"(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs, missing


def source_files(exts):
    for d in SOURCE_DIRS:
        base = ROOT / d
        if base.is_dir():
            yield from (p for p in base.rglob("*") if p.is_file() and p.suffix in exts)


def libraries_named_in_sources():
    """Absolute .so paths written in the sources (the allocator table, dlopen targets)."""
    pat = re.compile(r'"(/(?:usr/)?lib\d*/[^"\s]*\.so[.\d]*)"')
    return sorted({m.group(1) for p in source_files({".c", ".h", ".cc"})
                   for m in pat.finditer(p.read_text(errors="replace"))})


def mapped_under_preload(lib):
    """Files a child maps when lib is LD_PRELOADed (its /proc/self/maps)."""
    env = dict(os.environ, LD_PRELOAD=lib)
    p = subprocess.run(["cat", "/proc/self/maps"], env=env, capture_output=True, text=True)
    return sorted({line.split()[-1] for line in p.stdout.splitlines()
                   if len(line.split()) >= 6 and line.split()[-1].startswith("/")}), p.stderr


def allocator_table(mapbench):
    """[(name, package, installed, preload)] from `mapbench list --allocators`."""
    out = subprocess.run([str(mapbench), "list", "--allocators"], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    return [tuple(line.split()) for line in out[1:]]


def headers_read_by_the_build():
    """Every file outside the project that a compiler's -MD dependency file names."""
    found = set()
    for b in BUILD_DIRS:
        for d in b.rglob("*.d") if b.is_dir() else []:
            text = d.read_text(errors="replace").replace("\\\n", " ")
            for tok in text.split():
                if tok.startswith("/") and not tok.endswith(":") and _outside_project(tok):
                    found.add(os.path.normpath(tok))
    return sorted(found)


def files_cmake_found():
    """Absolute FILEPATH/PATH values in CMakeCache.txt outside the project and CMake itself
    (CMAKE_INSTALL_PREFIX is where `make install` would write, not something the build reads)."""
    found = set()
    cmake_bin = os.path.realpath(shutil.which("cmake") or "/usr/bin/cmake")
    for b in BUILD_DIRS:
        cache = b / "CMakeCache.txt"
        if not cache.exists():
            continue
        for line in cache.read_text().splitlines():
            m = re.match(r"([^#/][^:]*):(?:FILEPATH|PATH)=(/.*)$", line)
            if not m or m.group(1) == "CMAKE_INSTALL_PREFIX":
                continue
            path = m.group(2)
            if os.path.exists(path) and _outside_project(path) and os.path.realpath(path) != cmake_bin:
                found.add(path)
    return sorted(found)


# A new Debian machine's PATH: a command found only under /usr/local (or a
# user's shims) would be missing there.
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def which(cmd):
    return shutil.which(cmd, path=SYSTEM_PATH)


def commands_called():
    """Commands the harness, the build, the scripts and the tests run, read off their sources."""
    cmds = set()
    c_pats = [r'exec[lv]p?e?\(\s*"([^"]+)"', r'"/usr/s?bin/([\w.+-]+)"',
              r'(?:first_line|popen)\(\s*"([\w.+-]+)\s', r'"(git) -C ',
              # base/child.h: mb_child { .path = "gnuplot", ... }; run/spawn.c: mb_run_child*("git", ...)
              r'\.path\s*=\s*"([\w.+/-]+)"', r'mb_run_child\w*\(\s*"([\w.+/-]+)"']
    for p in source_files({".c", ".cc", ".h"}):
        text = p.read_text(errors="replace")
        for pat in c_pats:
            cmds.update(os.path.basename(m) for m in re.findall(pat, text))
    py_pat = r'subprocess\.\w+\(\s*\[\s*"([\w.+/-]+)"|shutil\.which\("([\w.+-]+)"\)'
    for p in source_files({".py"}):
        for a, b in re.findall(py_pat, p.read_text(errors="replace")):
            cmds.add(os.path.basename(a or b))
    for p in [ROOT / "CMakeLists.txt", *ROOT.glob("impls/**/*.cmake"), *ROOT.glob("bench/*.cmake"),
              *ROOT.glob("results/*.cmake")]:
        cmds.update(re.findall(r"find_program\(\s*\w+\s+([\w.+-]+)", p.read_text()))
    # Make and the shell scripts: the first word of each recipe / command line.
    shell_words = set()
    for p in [ROOT / "Makefile", ROOT / ".ci" / "run", *ROOT.glob("ci/*.sh"), *ROOT.glob("plots/*.sh")]:
        for line in p.read_text().splitlines():
            line = line.strip().lstrip("@-").strip()
            if not line or line.startswith("#"):
                continue
            for seg in re.split(r"\|\||&&|[|;]|\$\(|`", line):
                words = seg.split()
                while words and re.match(r"^\w+=", words[0]):
                    words = words[1:]
                if words and re.fullmatch(r"[a-z][\w.+-]*", words[0]):
                    shell_words.add(words[0])
    cmds.update(w for w in shell_words if which(w) and not _is_shell_builtin(w))
    cmds.discard("mapbench")
    return sorted(c for c in cmds if not c.startswith("/proc"))


def _is_shell_builtin(word):
    return word in {"echo", "exit", "exec", "set", "cd", "export", "for", "do", "done", "if", "then",
                    "else", "fi", "while", "case", "esac", "shift", "return", "test", "true",
                    "false", "read", "trap", "local", "wait", "printf", "break", "continue",
                    "eval", "umask", "unset", "command", "type", "elif", "in"}


def modules_imported_by_tests():
    """{module: file} for every top-level module the tests import, as /usr/bin/python3 finds it."""
    mods = set()
    for p in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Import):
                mods.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
    local = {p.stem for p in (ROOT / "tests").rglob("*.py")}
    mods -= local
    code = ("import importlib, sys\n"
            "for m in sys.argv[1:]:\n"
            "    mod = importlib.import_module(m)\n"
            "    print(m, getattr(mod, '__file__', None) or '-')\n")
    out = subprocess.run(["/usr/bin/python3", "-c", code, *sorted(mods)], capture_output=True,
                         text=True, cwd="/")
    assert out.returncode == 0, f"a module the tests import is missing: {out.stderr.strip()}"
    return {m: f for m, f in (l.split(" ", 1) for l in out.stdout.splitlines()) if f != "-"}


# ---- the checks ------------------------------------------------------------------

def unlisted(files_by_kind, listed):
    """[(kind, file, packages)] for files no allowed package ships."""
    allowed = allowed_packages(listed)
    every = {f for files in files_by_kind.values() for f in files}
    own = owners(every)
    bad = []
    for kind, files in files_by_kind.items():
        for f in files:
            pkgs = own[str(f)]
            if not pkgs:
                bad.append((kind, str(f), ["(no package ships it)"]))
            elif not any(p in allowed for p in pkgs):
                bad.append((kind, str(f), pkgs))
    return bad


def collect():
    """{kind: [files]} of everything the project loads on this machine."""
    mapbench = BUILD / "mapbench"
    kinds = {"shared object": set(), "preloaded": set(), "named in sources": set(),
             "header": set(headers_read_by_the_build()), "found by cmake": set(files_cmake_found()),
             "command": set(), "python module": set()}
    for elf in built_elf_files():
        libs, missing = ldd_libraries(elf)
        assert not missing, f"{elf} needs {missing}, which no installed file provides"
        kinds["shared object"].update(libs)
    for lib in libraries_named_in_sources():
        if os.path.exists(lib):
            kinds["named in sources"].add(lib)
            kinds["preloaded"].update(f for f in mapped_under_preload(lib)[0] if _outside_project(f))
    for cmd in commands_called():
        path = which(cmd)
        assert path, f"the project calls `{cmd}`, which is not installed (PATH={SYSTEM_PATH})"
        kinds["command"].add(os.path.realpath(path))
    kinds["python module"].update(f for f in modules_imported_by_tests().values()
                                  if f.startswith("/usr/"))
    return {k: sorted(v) for k, v in kinds.items()}


@pytest.fixture(scope="module")
def loaded():
    assert (BUILD / "mapbench").exists(), f"build first: {BUILD}/mapbench is missing"
    return collect()


def test_every_file_the_project_loads_comes_from_a_listed_package(loaded):
    bad = unlisted(loaded, listed_packages())
    assert not bad, "not in ci/packages.txt (nor a dependency of a listed package):\n" + "\n".join(
        f"  {kind}: {f} from {', '.join(sorted(set(p)))}" for kind, f, p in bad)


def test_the_collection_sees_what_it_must(loaded):
    """The collectors are not vacuous: each kind finds what this project certainly loads."""
    libs = " ".join(loaded["shared object"])
    assert "libsqlite3" in libs and "libbenchmark" in libs and "libc.so" in libs
    assert any(h.endswith("/sqlite3.h") for h in loaded["header"])
    assert any(h.endswith("benchmark/benchmark.h") for h in loaded["header"])
    cmds = {os.path.basename(c) for c in loaded["command"]}
    assert {"valgrind", "gnuplot", "git", "cmake"} <= {c.split("-")[0] for c in cmds} | cmds
    assert "pytest" in " ".join(loaded["python module"])


def test_every_allocator_package_is_listed(mapbench):
    """Installed or not: an allocator whose package is unlisted is missing on a new machine."""
    table = allocator_table(mapbench)
    assert len(table) >= 4
    listed = listed_packages()
    allowed = allowed_packages(listed)
    missing = [(name, pkg) for name, pkg, _, _ in table if pkg not in allowed]
    assert not missing, "allocator packages not in ci/packages.txt: " + ", ".join(
        f"{pkg} ({name})" for name, pkg in missing)
    for name, pkg, installed, preload in table:
        if preload != "-" and installed == "yes":
            assert pkg in owners([preload])[preload], f"{preload} is not shipped by {pkg}"


def test_each_preloaded_allocator_really_maps(mapbench):
    """What an LD_PRELOAD child maps includes the allocator itself, and nothing is refused."""
    for name, pkg, installed, preload in allocator_table(mapbench):
        if preload == "-":
            continue
        assert installed == "yes", f"{name}: {preload} is missing: install {pkg} (ci/packages.txt)"
        maps, err = mapped_under_preload(preload)
        assert "cannot be preloaded" not in err, err
        assert os.path.realpath(preload) in {os.path.realpath(m) for m in maps}, name


def test_an_unlisted_package_is_named(loaded, tmp_path):
    """The check fails, naming the package, when one the project loads is left out of the list."""
    listed = listed_packages()
    own = owners([lib for lib in loaded["named in sources"]])
    victim = next(pkgs[0] for pkgs in own.values() if pkgs)
    fewer = {p: w for p, w in listed.items() if p != victim}
    bad = unlisted(loaded, fewer)
    assert any(victim in pkgs for _, _, pkgs in bad), (victim, bad[:3])


def test_install_deps_is_quiet_and_fast_when_nothing_is_missing():
    p = subprocess.run(["sh", str(ROOT / "ci" / "install-deps.sh")], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", (p.stdout, p.stderr)


def test_install_deps_says_what_is_missing_and_why():
    """A list naming a package that is not installed: the script names it with its why."""
    top = pathlib.Path(tempfile.mkdtemp(prefix="mb-deps-"))
    top.chmod(0o755)  # readable by the unprivileged user the script runs as
    ci = top / "ci"
    ci.mkdir()
    shutil.copy(ROOT / "ci" / "install-deps.sh", ci)
    (ci / "packages.txt").write_text("make  the build\nmapbench-no-such-package  a reason of its own\n")
    env = dict(os.environ, PATH="/usr/bin:/bin")
    # not root here, so nothing is installed: the script must stop and say why
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh",
                        str(ci / "install-deps.sh")], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "mapbench-no-such-package" in p.stdout and "a reason of its own" in p.stdout
    assert "make " not in p.stdout.split("missing", 1)[1]
    assert "apt-get install" in p.stderr
    shutil.rmtree(top)


if __name__ == "__main__":
    found = collect()
    own = owners({f for v in found.values() for f in v})
    for kind, files in found.items():
        pkgs = sorted({p for f in files for p in own[str(f)][:1]})
        print(f"{kind} ({len(files)} files): {' '.join(pkgs)}")
    bad = unlisted(found, listed_packages())
    print("unlisted:", bad or "none")
    sys.exit(1 if bad else 0)
