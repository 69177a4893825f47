"""The child protocol (harness/base/record.h): the parent binds every value by
its column's name in the header, never by position.  tests/driver/rectest.c
feeds the reader every record kind with its header reversed and an unknown
column inserted, then the lines the reader must refuse; this runs it."""
import subprocess

from conftest import BUILD


def test_every_record_kind_is_bound_by_column_name():
    p = subprocess.run([str(BUILD / "mb_rectest")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("ok: ") and "record kinds bound by column name" in p.stdout, p.stdout
