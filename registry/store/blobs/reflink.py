"""Copy-on-write clones (``FICLONE``): a new inode that shares the source's data blocks.

On Btrfs, XFS (reflink=1), bcachefs, ZFS 2.2+ and OCFS2 a clone costs metadata only, and a later
write to either file copies just the blocks written: editing the source can never change the clone.
Everywhere else (ext4, tmpfs, across file systems) :func:`clone_file` says no and the caller copies.
"""

from __future__ import annotations

import errno
import fcntl

__all__ = ["FICLONE", "clone_file"]

#: ``_IOW(0x94, 9, int)`` from ``<linux/fs.h>``.
FICLONE = 0x40049409

#: What an unsupported clone answers: no reflinks here, another file system, not a regular file.
_UNSUPPORTED = frozenset(
    {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EBADF}
)


def clone_file(source_fd: int, dest_fd: int) -> bool:
    """Make the empty file ``dest_fd`` a reflink clone of ``source_fd``. False when the file system
    cannot (the caller then copies); other failures (a full disk) raise ``OSError``."""
    try:
        fcntl.ioctl(dest_fd, FICLONE, source_fd)
    except OSError as err:
        if err.errno in _UNSUPPORTED:
            return False
        raise
    return True
