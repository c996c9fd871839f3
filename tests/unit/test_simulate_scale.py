"""The simulator at national scale (~25,000 placement rows a month, Lampung ~8.5 %)."""

from __future__ import annotations

import time

import pytest

from sinergi import vocab
from sinergi.simulate import simulate
from sinergi.simulate.writers import read_back


@pytest.mark.slow
def test_national_scale_volume_shares_and_speed(tmp_path):
    t = time.process_time()
    res = simulate(tmp_path, month="2025-07", scale="national", seed=1, defect_rate=0.0,
                   formats={"placements": "csv", "cpmi_registrations": "xlsx"})
    cpu = time.process_time() - t
    assert cpu < 30, f"national month took {cpu:.1f} s CPU"
    header, rows = read_back(res.files[("placements", "2025-07")])
    col = {h: i for i, h in enumerate(header)}
    assert 24000 <= len(rows) <= 26000
    niks = [r[col["NIK"]] for r in rows]
    assert len(set(niks)) == len(niks)
    lampung = sum(n.startswith("18") for n in niks) / len(niks)
    assert lampung == pytest.approx(0.085, abs=0.01)
    female = sum(r[col["JENIS KELAMIN"]] == "P" for r in rows) / len(rows)
    assert female == pytest.approx(0.62, abs=0.02)
    tw = sum(vocab.country_code(r[col["NEGARA PENEMPATAN"]]) == "TW" for r in rows) / len(rows)
    assert tw == pytest.approx(0.55, abs=0.03)
    regs = res.rows[("cpmi_registrations", "2025-07")]
    assert 1.2 <= regs / len(rows) <= 1.5
    # the biggest XLSX of the month (~32,000 registrations) is a valid workbook with the header under the title
    import zipfile

    with zipfile.ZipFile(res.files[("cpmi_registrations", "2025-07")]) as z:
        assert z.testzip() is None
        sheet = z.read("xl/worksheets/sheet1.xml")
    n = res.rows[("cpmi_registrations", "2025-07")]
    assert n + 3 <= sheet.count(b"<row ") <= n + 5  # data + header + a 2-4 line title block
    assert b">NO REGISTRASI</t>" in sheet[:20000]
