import pytest

import tabsnap


def test_verify_finds_a_damaged_pack_and_names_it(tmp_path, data_dir):
    repo = tmp_path / "repo"
    with tabsnap.Engine(data_dir, state_dir=tmp_path / "state") as engine:
        engine.execute(f"CREATE REPOSITORY r WITH LOCAL ON LOCATION 'file://{repo}'")
        engine.query("BACKUP SNAPSHOT db1.s1 TO r ON (t1)").wait(timeout=60)
        engine.query("BACKUP SNAPSHOT db1.s2 TO r ON (t2)").wait(timeout=60)
        report = engine.verify("r")
        assert report.ok and report.snapshots == 2 and report.chunks > 0, report
        assert engine.verify("r", "s1", "latest", quick=True).snapshots == 1
        with pytest.raises(tabsnap.NotFoundError):
            engine.verify("r", "nothing")
        with pytest.raises(tabsnap.AnalysisError):
            engine.verify("no_such_repository")

        # One flipped byte in the middle of a pack: full verify reports it, naming the pack; quick does not read data.
        pack = max((p for p in (repo / "packs").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        data = bytearray(pack.read_bytes())
        data[len(data) // 3] ^= 0x40
        pack.write_bytes(bytes(data))
        assert engine.verify("r", quick=True).ok
        bad = engine.verify("r")
        assert not bad.ok
        assert any(p["Object"] == f"packs/{pack.parent.name}/{pack.name}" for p in bad.problems), bad.problems
        assert all(p["Message"] for p in bad.problems)
