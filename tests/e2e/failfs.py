"""A pass-through FUSE file system whose fsync can be made to fail, for
the fault matrix (test_faults.py): the broker's store on it gets EIO from
fdatasync() exactly as from a failing disk.

    fs = FailFs(backing_dir, mount_dir)     # mounted, served by a thread
    fs.fail_fsync = True                    # every fsync/fdatasync: EIO
    fs.close()                              # unmount

It speaks the kernel's FUSE protocol on /dev/fuse itself (root mounts
with mount(2): no libfuse, no fusermount), as protocol 7.22: lookup,
getattr, setattr, open, create, read, write, fsync, flush, release,
mkdir, unlink, rename, readdir, statfs; anything else is ENOSYS.  Every
request is done on the backing directory; nothing is cached (attributes
and entries are valid for 0 s).  Only root can use it; FailFs.why says
why it could not mount.
"""
import ctypes
import errno
import os
import stat
import struct
import threading

IN_HEAD = struct.Struct("<IIQQIIIHH")
OUT_HEAD = struct.Struct("<IiQ")
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")
ENTRY = struct.Struct("<QQQQII")
ATTR_OUT = struct.Struct("<QII")
OPEN_OUT = struct.Struct("<QII")
(LOOKUP, FORGET, GETATTR, SETATTR, MKDIR, UNLINK, RENAME, OPEN, READ, WRITE, STATFS,
 RELEASE, FSYNC, FLUSH, INIT, OPENDIR, READDIR, RELEASEDIR, FSYNCDIR, CREATE,
 INTERRUPT, DESTROY, BATCH_FORGET) = (1, 2, 3, 4, 9, 10, 12, 14, 15, 16, 17, 18, 20, 25,
                                      26, 27, 28, 29, 30, 35, 36, 38, 42)
NO_REPLY = (FORGET, INTERRUPT, BATCH_FORGET)
FATTR_MODE, FATTR_SIZE = 1, 8
MS_NOSUID, MS_NODEV = 2, 4


class FailFs:
    def __init__(self, backing, mnt):
        self.backing, self.mnt = backing, mnt
        self.fail_fsync = False
        self.fsyncs = self.failed = 0
        self.paths = {1: backing}           # nodeid -> backing path
        self.ids = {backing: 1}
        self.fd = -1
        self.why = None
        self.thread = None
        try:
            self.fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            self.why = f"/dev/fuse: {e.strerror}"
            return
        libc = ctypes.CDLL(None, use_errno=True)
        opts = f"fd={self.fd},rootmode=40000,user_id=0,group_id=0".encode()
        if libc.mount(b"failfs", mnt.encode(), b"fuse", MS_NOSUID | MS_NODEV, opts) != 0:
            self.why = f"mount -t fuse: {os.strerror(ctypes.get_errno())}"
            os.close(self.fd)
            self.fd = -1
            return
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def mounted(self):
        return self.thread is not None

    def close(self):
        if self.thread is None:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.umount2(self.mnt.encode(), 2)          # MNT_DETACH
        os.close(self.fd)                           # aborts what is left
        self.thread.join(5)
        self.thread = None

    # ------------------------------------------------------------ serving
    def _serve(self):
        while True:
            try:
                req = os.read(self.fd, 1 << 20 | 4096)
            except OSError as e:
                if e.errno in (errno.EINTR, errno.ENOENT, errno.EAGAIN):
                    continue
                return                              # ENODEV: unmounted
            ln, op, unique, node, _, _, _, _, _ = IN_HEAD.unpack_from(req)
            body = req[IN_HEAD.size:ln]
            try:
                err, out = 0, self._op(op, node, body)
            except OSError as e:
                err, out = -(e.errno or errno.EIO), b""
            except (KeyError, struct.error):
                err, out = -errno.EINVAL, b""
            if op in NO_REPLY:
                continue
            if out is None:
                err, out = -errno.ENOSYS, b""
            try:
                os.write(self.fd, OUT_HEAD.pack(OUT_HEAD.size + len(out), err, unique) + out)
            except OSError:
                pass

    def _attr(self, path):
        st = os.lstat(path)
        return ATTR.pack(st.st_ino, st.st_size, st.st_blocks, int(st.st_atime),
                         int(st.st_mtime), int(st.st_ctime), 0, 0, 0, st.st_mode, st.st_nlink,
                         st.st_uid, st.st_gid, 0, 4096, 0)

    def _entry(self, path):
        if path not in self.ids:
            self.ids[path] = nid = len(self.paths) + 1
            self.paths[nid] = path
        return ENTRY.pack(self.ids[path], 0, 0, 0, 0, 0) + self._attr(path)

    def _child(self, node, body):
        return os.path.join(self.paths[node], body.split(b"\0")[0].decode())

    def _op(self, op, node, body):
        path = self.paths.get(node)
        if op == INIT:
            major, minor, readahead, flags = struct.unpack_from("<IIII", body)
            return struct.pack("<IIIIHHI", 7, 22, readahead, 0, 16, 12, 128 << 10)
        if op == LOOKUP:
            return self._entry(self._child(node, body))
        if op == GETATTR:
            return ATTR_OUT.pack(0, 0, 0) + self._attr(path)
        if op == SETATTR:
            valid, _, fh, size = struct.unpack_from("<IIQQ", body)
            mode = struct.unpack_from("<I", body, 68)[0]
            if valid & FATTR_SIZE:
                os.truncate(path, size)
            if valid & FATTR_MODE:
                os.chmod(path, stat.S_IMODE(mode))
            return ATTR_OUT.pack(0, 0, 0) + self._attr(path)
        if op in (OPEN, OPENDIR):
            flags = struct.unpack_from("<I", body)[0]
            if op == OPENDIR:
                return OPEN_OUT.pack(0, 0, 0)
            fd = os.open(path, flags & ~(os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_TRUNC))
            return OPEN_OUT.pack(fd, 0, 0)
        if op == CREATE:
            flags, mode, umask, _ = struct.unpack_from("<IIII", body)
            child = self._child(node, body[16:])
            fd = os.open(child, (flags & ~os.O_APPEND) | os.O_CREAT, stat.S_IMODE(mode))
            return self._entry(child) + OPEN_OUT.pack(fd, 0, 0)
        if op == READ:
            fh, off, size = struct.unpack_from("<QQI", body)
            return os.pread(fh, size, off)
        if op == WRITE:
            fh, off, size = struct.unpack_from("<QQI", body)
            n = os.pwrite(fh, body[40:40 + size], off)
            return struct.pack("<II", n, 0)
        if op in (FSYNC, FSYNCDIR):
            self.fsyncs += 1
            if self.fail_fsync:
                self.failed += 1
                raise OSError(errno.EIO, "fsync made to fail")
            if op == FSYNC:
                os.fsync(struct.unpack_from("<Q", body)[0])
            return b""
        if op == FLUSH:
            return b""
        if op == RELEASE:
            os.close(struct.unpack_from("<Q", body)[0])
            return b""
        if op == RELEASEDIR:
            return b""
        if op == READDIR:
            fh, off, size = struct.unpack_from("<QQI", body)
            return self._dirents(path, off, size)
        if op == MKDIR:
            mode = struct.unpack_from("<I", body)[0]
            child = self._child(node, body[8:])
            os.mkdir(child, stat.S_IMODE(mode))
            return self._entry(child)
        if op == UNLINK:
            os.unlink(self._child(node, body))
            return b""
        if op == RENAME:
            newdir = struct.unpack_from("<Q", body)[0]
            old, new = body[8:].split(b"\0")[:2]
            src = os.path.join(path, old.decode())
            dst = os.path.join(self.paths[newdir], new.decode())
            os.rename(src, dst)
            for p, nid in list(self.ids.items()):
                if p == src:
                    del self.ids[p]
                    self.ids[dst], self.paths[nid] = nid, dst
            return b""
        if op == STATFS:
            s = os.statvfs(self.backing)
            return struct.pack("<QQQQQIIII24x", s.f_blocks, s.f_bfree, s.f_bavail, s.f_files,
                               s.f_ffree, s.f_bsize, 255, s.f_frsize, 0)
        if op == DESTROY:
            return b""
        return None

    def _dirents(self, path, off, size):
        names = [".", ".."] + sorted(os.listdir(path))
        out = b""
        for i, name in enumerate(names[off:], off + 1):
            nb = name.encode()
            full = os.path.join(path, name)
            try:
                st = os.lstat(full)
                ino, typ = st.st_ino, stat.S_IFMT(st.st_mode) >> 12
            except OSError:
                continue
            ent = struct.pack("<QQII", ino, i, len(nb), typ) + nb
            ent += b"\0" * (-len(ent) % 8)
            if len(out) + len(ent) > size:
                break
            out += ent
        return out
