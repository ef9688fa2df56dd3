"""Every file fluxwire writes goes through here: confined to its folder, whole or not at all.

Why one module: a picture, a preview, an upload and a saved document must all obey the same two rules,
and a rule kept in four places drifts.

* Confined. A name chosen by a user or a document (a filename prefix, an upload's name, a model name) is a
  name, not a path: `check_name` refuses absolute and Windows paths, ``..``, NUL and control characters,
  reserved device names and over-long parts. Sub-folders (``portraits/fox``) are allowed and stay inside the
  folder. Writes walk the folder one part at a time with ``O_NOFOLLOW`` from an open directory handle, so a
  link already lying inside the folder (or swapped in while we write) is refused rather than followed; the
  folder itself may be a link, because the user chose it.
* Whole or not at all. The bytes go to a temp file in the target folder, are flushed to disk, then the
  temp file is linked under its final name (a hard link fails if the name exists, so nothing is ever
  overwritten) or renamed over it (documents), and the folder entry is flushed too. A writer killed
  half-way leaves only a temp file, named ``.<name>.<host>.<pid>.<random>.fluxwire-tmp``, which the next
  writer in that folder removes once its process is gone.
"""
from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
import time
import zlib
from pathlib import Path
from typing import BinaryIO, Callable

TEMP_SUFFIX = ".fluxwire-tmp"
STALE_TEMP_SECONDS = 24 * 3600  # a temp file this old is stale whoever wrote it (pid reuse, other hosts)
MAX_PART_BYTES = 150  # one folder or file name; leaves room under the usual 255-byte limit for temp names
MAX_NAME_BYTES = 1024
MAX_DEPTH = 8
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$", re.IGNORECASE)
_HOST = format(zlib.crc32(socket.gethostname().encode()), "08x")
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# os.replace takes dir_fd arguments like os.rename, though supports_dir_fd does not list it
_DIR_FDS = {os.open, os.mkdir, os.link, os.unlink, os.stat, os.rename} <= os.supports_dir_fd \
    and bool(_O_NOFOLLOW and _O_DIRECTORY)


class UnsafeName(ValueError):
    """A name that would leave its folder, or that no file system can hold; the message says which rule."""


# ----------------------------------------------------------------------------- names

def check_name(name, what: str = "name", *, subfolders: bool = True) -> list[str]:
    """The parts of a relative name (``a/b.png`` -> ``["a", "b.png"]``), or UnsafeName saying what is wrong."""
    if not isinstance(name, str) or not name:
        raise UnsafeName(f"{what} must be a non-empty name")
    shown = repr(name if len(name) <= 60 else name[:57] + "...")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UnsafeName(f"{what} {shown} contains a NUL or control character")
    if "\\" in name or re.match(r"^[A-Za-z]:", name) or (os.name == "nt" and ":" in name):
        raise UnsafeName(f"{what} {shown} must use '/' between folders and be a name, not a Windows path "
                         "(no '\\', no drive letter)")
    if name.startswith("/"):
        raise UnsafeName(f"{what} {shown} must be a name inside its folder, not an absolute path")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise UnsafeName(f"{what} is longer than {MAX_NAME_BYTES} bytes")
    parts = name.split("/")
    if not subfolders and len(parts) > 1:
        raise UnsafeName(f"{what} {shown} must be a plain name without '/'")
    if len(parts) > MAX_DEPTH:
        raise UnsafeName(f"{what} {shown} has more than {MAX_DEPTH} folder levels")
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafeName(f"{what} {shown} must not contain '..', '.' or empty parts")
        if part != part.strip() or part.endswith("."):
            raise UnsafeName(f"{what} {shown} has a part with surrounding spaces or a trailing dot")
        if part.startswith("."):
            raise UnsafeName(f"{what} {shown} has a part starting with '.' (hidden names are not used)")
        if _RESERVED.match(part):
            raise UnsafeName(f"{what} {shown} uses the reserved device name {part.split('.')[0]!r}")
        if len(part.encode("utf-8", "surrogatepass")) > MAX_PART_BYTES:
            raise UnsafeName(f"{what} has a part longer than {MAX_PART_BYTES} bytes")
    return parts


def is_safe_name(name) -> bool:
    """True when `check_name` accepts the name (for filtering folder listings)."""
    try:
        check_name(name)
    except UnsafeName:
        return False
    return True


def inside(root: str | os.PathLike, name: str, what: str = "name") -> Path:
    """For reading: the real path of ``root/name`` after following links, refused if it leaves `root`."""
    check_name(name, what)
    real_root = Path(root).resolve()
    real = (Path(root) / name).resolve()
    if real != real_root and real_root not in real.parents:
        raise UnsafeName(f"{what} {name!r} points outside {root} (a link leaving the folder); refused")
    return real


# ----------------------------------------------------------------------------- temp files

def _temp_name(final: str) -> str:
    return f".{final[:60]}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _writer_gone(name: str) -> bool:
    """True when the process that made this temp name has ended (only decidable on this host)."""
    try:
        host, pid = name[: -len(TEMP_SUFFIX)].rsplit(".", 3)[1:3]
        pid = int(pid)
    except ValueError:
        return False
    if host != _HOST:
        return False
    return pid != os.getpid() and _process_gone(pid)  # our own pid: another thread may be writing it


def _process_gone(pid: int) -> bool:
    """True when no process `pid` runs on this machine. Unknown (False) on Windows, where os.kill would end
    the process; there the age rule alone removes leftovers."""
    if os.name == "nt":
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, someone else's
    return False


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


# ----------------------------------------------------------------------------- confined folders

class _Folder:
    """An open folder that names inside it are resolved against.

    Where the OS can work relative to an open directory (Linux, macOS) this holds a directory descriptor, so
    a folder renamed or replaced by a link after we checked it cannot redirect the write. Elsewhere
    (Windows) it holds the checked path, and each step re-checks for links (a small race remains there)."""

    def __init__(self, root: Path, what: str):
        self.what, self.root, self.fd, self.path = what, root, None, str(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            if _DIR_FDS:
                self.fd = os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
            elif not root.is_dir():
                raise NotADirectoryError
        except (FileExistsError, NotADirectoryError):  # not "the name is taken": the folder itself is unusable
            raise NotADirectoryError(f"{root} is not a folder (a file or a broken link is in its place)") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)

    def _at(self, name: str) -> dict:
        return {"dir_fd": self.fd} if self.fd is not None else {}

    def _p(self, name: str) -> str:
        return name if self.fd is not None else os.path.join(self.path, name)

    def enter(self, parts: list[str]) -> None:
        """Move into root/parts..., making missing folders, refusing links and non-folders."""
        for i, part in enumerate(parts):
            try:
                os.mkdir(self._p(part), 0o755, **self._at(part))
            except FileExistsError:
                pass
            try:
                if self.fd is not None:
                    sub = os.open(part, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=self.fd)
                    os.close(self.fd)
                    self.fd = sub
                else:
                    path = self._p(part)
                    st = os.lstat(path)
                    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode) or _is_junction(path):
                        raise OSError(errno.ELOOP, "a link", path)
                    self.path = path
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    where = "/".join(parts[: i + 1])
                    raise UnsafeName(f"{self.what}: {where!r} in {self.root} is a link or not a folder; fluxwire "
                                     "does not write through links") from None
                raise

    def names(self) -> list[str]:
        return os.listdir(self.fd if self.fd is not None else self.path)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(self._p(name), follow_symlinks=False, **self._at(name))

    def unlink(self, name: str, quietly: bool = False) -> None:
        try:
            os.unlink(self._p(name), **self._at(name))
        except OSError:
            if not quietly:
                raise

    def write_temp(self, final_hint: str, write: Callable[[BinaryIO], None]) -> str:
        """Write and flush a new temp file here; returns its name."""
        tmp = _temp_name(final_hint)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_BINARY", 0)
        fd = os.open(self._p(tmp), flags, 0o644, **self._at(tmp))
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            self.unlink(tmp, quietly=True)
            raise
        return tmp

    def claim(self, tmp: str, final: str) -> None:
        """Give the whole temp file its final name; FileExistsError if the name is taken (never overwrites)."""
        both = {"src_dir_fd": self.fd, "dst_dir_fd": self.fd} if self.fd is not None else {}
        try:
            os.link(self._p(tmp), self._p(final), follow_symlinks=False, **both)
        except FileExistsError:
            raise
        except (OSError, NotImplementedError) as e:  # no hard links here: check, then rename (a small race)
            if isinstance(e, OSError) and e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP,
                                                           errno.EXDEV, errno.EMLINK, errno.ENOSYS):
                raise
            try:
                self.lstat(final)
            except FileNotFoundError:
                os.rename(self._p(tmp), self._p(final), **both)  # on Windows rename refuses an existing name
                return
            raise FileExistsError(errno.EEXIST, "file exists", final) from None
        self.unlink(tmp, quietly=True)

    def replace(self, tmp: str, final: str) -> None:
        both = {"src_dir_fd": self.fd, "dst_dir_fd": self.fd} if self.fd is not None else {}
        os.replace(self._p(tmp), self._p(final), **both)

    def sync(self) -> None:
        """Flush the folder entry (the new name) to disk; not possible on every system."""
        if self.fd is not None:
            os.fsync(self.fd)

    def clean_stale_temps(self) -> int:
        removed = 0
        try:
            names = self.names()
        except OSError:
            return 0
        now = time.time()
        for name in names:
            if not is_temp_name(name):
                continue
            try:
                st = self.lstat(name)
                if (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)) and \
                        (_writer_gone(name) or now - st.st_mtime > STALE_TEMP_SECONDS):
                    self.unlink(name)
                    removed += 1
            except OSError:
                continue
        return removed


def _is_junction(path: str) -> bool:
    return bool(getattr(os.path, "isjunction", lambda p: False)(path))


def clean_stale_temps(folder: str | os.PathLike) -> int:
    """Remove temp files left in `folder` by writers that died; returns how many were removed."""
    if not Path(folder).is_dir():
        return 0
    try:
        with _Folder(Path(folder), "folder") as here:
            return here.clean_stale_temps()
    except OSError:
        return 0


def _as_writer(data) -> Callable[[BinaryIO], None]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return lambda f: f.write(data)
    return data


def write_new(root: str | os.PathLike, name: str, data, *, what: str = "file name") -> Path:
    """Write ``root/name`` whole (bytes, or a function writing to a binary file); FileExistsError if taken."""
    parts = check_name(name, what)
    with _Folder(Path(root), what) as here:
        here.enter(parts[:-1])
        here.clean_stale_temps()
        tmp = here.write_temp(parts[-1], _as_writer(data))
        try:
            here.claim(tmp, parts[-1])
        except BaseException:
            here.unlink(tmp, quietly=True)
            raise
        here.sync()
    return Path(root, *parts)


def write_numbered(root: str | os.PathLike, prefix: str, suffix: str, data, *, what: str = "file name prefix",
                   digits: int = 5) -> Path:
    """Write ``root/prefix_00001.suffix`` (the next free number), whole, never overwriting another file."""
    parts = check_name(prefix, what)
    stem = parts[-1]
    with _Folder(Path(root), what) as here:
        here.enter(parts[:-1])
        names = here.names()
        here.clean_stale_temps()
        pattern = re.compile(re.escape(stem) + r"_(\d+)" + re.escape(suffix) + "$")
        counter = 1 + max((int(m.group(1)) for n in names if (m := pattern.match(n))), default=0)
        tmp = here.write_temp(f"{stem}{suffix}", _as_writer(data))
        try:
            while True:
                final = f"{stem}_{counter:0{digits}d}{suffix}"
                try:
                    here.claim(tmp, final)
                    break
                except FileExistsError:
                    counter += 1
        except BaseException:
            here.unlink(tmp, quietly=True)
            raise
        here.sync()
    return Path(root, *parts[:-1], final)


def replace_file(path: str | os.PathLike, data) -> Path:
    """Write `path` whole, replacing what is there (a document the user saves again); a link at `path` is
    replaced by the file, never written through."""
    path = Path(path)
    with _Folder(path.parent, "file") as here:
        here.clean_stale_temps()
        tmp = here.write_temp(path.name, _as_writer(data))
        try:
            here.replace(tmp, path.name)
        except BaseException:
            here.unlink(tmp, quietly=True)
            raise
        here.sync()
    return path


# ----------------------------------------------------------------------------- private temp folders

def private_folder(base: str | os.PathLike, kind: str) -> Path:
    """A new folder only this process uses (mode 0700), e.g. for previews; the caller removes it at exit.
    Folders of the same kind left by processes that died (killed, crashed) are removed first."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    prefix = f"fluxwire-{kind}-{_HOST}."
    for entry in os.listdir(base):
        if not entry.startswith(prefix):
            continue
        try:
            pid = int(entry[len(prefix):].split(".", 1)[0])
            st = os.lstat(base / entry)
        except (ValueError, OSError):
            continue
        mine = st.st_uid == getattr(os, "getuid", lambda: st.st_uid)()
        if not stat.S_ISDIR(st.st_mode) or not mine or pid == os.getpid():
            continue
        if _process_gone(pid):
            shutil.rmtree(base / entry, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}.", dir=base))


__all__ = ["UnsafeName", "check_name", "is_safe_name", "inside", "write_new", "write_numbered", "replace_file",
           "clean_stale_temps", "is_temp_name", "private_folder", "TEMP_SUFFIX"]
