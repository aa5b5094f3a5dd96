"""The filesystem spool: a directory of DataRobot ``fs_spool.N`` files (spec §4.1).

* :mod:`~spoolwatch.spools.filesystem.spool`: :class:`FilesystemSpool`, the spool contract
  over one directory, and :func:`from_url`.
* :mod:`~spoolwatch.spools.filesystem.files`: spool file names, order, format and identity.
* :mod:`~spoolwatch.spools.filesystem.writer`: writing files as DataRobot's spooler does.
* :mod:`~spoolwatch.spools.filesystem.scan`: reading records out of one file.
* :mod:`~spoolwatch.spools.filesystem.frames`: checking binary frames in bounded memory.
* :mod:`~spoolwatch.spools.filesystem.consumer`: the cursor, in-flight records and progress.
* :mod:`~spoolwatch.spools.filesystem.state`: progress, lock and quarantine files.
"""

from spoolwatch.spools.filesystem.spool import (
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_MAX_FILES,
    DEFAULT_MAX_RECORD_BYTES,
    FilesystemSpool,
    from_url,
)

__all__ = [
    "DEFAULT_MAX_FILES",
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_MAX_RECORD_BYTES",
    "FilesystemSpool",
    "from_url",
]
