"""Draft data-protection impact assessment (DPIA, *penilaian dampak pelindungan data pribadi*) per
party, in Bahasa Indonesia, generated from the sharing policy and the measured risk of the latest
releases — for the data protection officers (PPDP) of both parties to complete and sign.

UU 27/2022 Pasal 34 requires an impact assessment where processing carries a high risk, among
others for specific personal data (health), large scale, systematic monitoring and the matching or
combining of datasets — all present here. The pipeline cannot make that assessment: it writes down
what it knows (what is shared, with whom, why, under which attacker model, with which measured
risk and which residual risks) and leaves every judgement — likelihood, severity, extra measures,
the decision and the signatures — as an explicit blank. The draft holds no personal data; it is
published in the party's ``_catalog/`` (``sinergi.layout.DPIA_MD_KEY`` / ``DPIA_HTML_KEY``) next to
the record of processing, and says on its first line that it is a draft, not an approved DPIA.

``render(policy, party, measured=None) -> (markdown, html)``; ``measured`` as
``sinergi.ropa.latest_measurements``. Both formats come from one list of blocks, so they say the same.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from sinergi import registry
from sinergi.policy import Policy
from sinergi.ropa import _context, measured_lines

GRAIN_ID = {"month": "bulan", "iso_week": "minggu ISO", "year": "tahun", "day": "tanggal persis (dengan justifikasi)"}
BLANK = "……………………"

# (huruf, kriteria Pasal 34 ayat (2)) — what the policy says about each is filled in per party below
CRITERIA = (
    ("a", "pengambilan keputusan secara otomatis yang berakibat hukum atau berdampak signifikan bagi Subjek Data Pribadi"),
    ("b", "pemrosesan Data Pribadi yang bersifat spesifik"),
    ("c", "pemrosesan Data Pribadi dalam skala besar"),
    ("d", "pemrosesan untuk evaluasi, penskoran atau pemantauan yang sistematis"),
    ("e", "pencocokan atau penggabungan sekelompok data"),
    ("f", "penggunaan teknologi baru dalam pemrosesan"),
    ("g", "pemrosesan yang membatasi pelaksanaan hak Subjek Data Pribadi"),
)


def _criteria(c: dict) -> list[list[str]]:
    specific = [f"{d['name']} ({d['specific']})" for d in c["datasets"] if d["specific"]]
    sizes = {d["name"]: (d["measured"] or {}).get("disclosure", {}).get("persons_in") or 0 for d in c["datasets"]}
    largest = max(sizes, key=sizes.get) if sizes else None
    linked = [d["name"] for d in c["datasets"] if "person" in d["tokens"]]
    scale = (f"ya: sampai {sizes[largest]} orang dalam satu rilis bulanan ({largest}, terukur)" if largest and sizes[largest]
             else "kemungkinan ya: ribuan CPMI/PMI per bulan (angka terukur muncul setelah publikasi pertama)")
    return [
        ["a", CRITERIA[0][1], "tidak diketahui pipeline: rilis tidak memuat keputusan atas orang", BLANK],
        ["b", CRITERIA[1][1], ("ya: " + "; ".join(specific)) if specific else "tidak", BLANK],
        ["c", CRITERIA[2][1], scale, BLANK],
        ["d", CRITERIA[3][1], "ya: indikator bulanan dan evaluasi tahunan (Nota Kesepakatan Pasal 7)", BLANK],
        ["e", CRITERIA[4][1], ("ya: token orang yang sama menghubungkan " + ", ".join(linked)) if linked else "tidak",
         BLANK],
        ["f", CRITERIA[5][1], "untuk dinilai PPDP", BLANK],
        ["g", CRITERIA[6][1], "untuk dinilai PPDP", BLANK],
    ]


def _reidentification_id(policy: Policy, c: dict) -> list[str]:
    party = c["party"]
    systems = {d["system"] for d in c["datasets"]}
    own, foreign = sorted(systems & set(party.owns)), sorted(systems - set(party.owns))
    others = [n for n in policy.parties if n != party.name]
    lines = []
    if own:
        lines.append(f"{party.title} sendiri mengelola {', '.join(own)}: nomor rekam sistem tersebut diterima apa adanya "
                     "dan data sumbernya (dengan NIK) ada padanya, sehingga ia dapat mengidentifikasi ulang setiap baris "
                     "dataset dari sistemnya sendiri (tidak anonim terhadap dirinya sendiri), lalu melalui token orang "
                     "menghubungkannya ke dataset lain yang diterimanya.")
    if foreign:
        lines.append(f"Rekam dari {', '.join(foreign)} diterima dengan nomor rekam diganti token berkunci milik "
                     f"{party.name}: baik {party.name} maupun pengelola sistem tersebut tidak dapat mencari baris "
                     "berdasarkan nomornya, dan token orang tidak pernah sama dengan token pihak lain.")
    if others:
        lines.append(f"Pihak lain ({', '.join(others)}) mengetahui semua kolom rekam sistemnya sendiri. Pada pengenal "
                     "semu ia tidak dapat menunjuk satu orang (setiap kelas memuat sekurang-kurangnya k orang), tetapi ia "
                     "juga mengetahui atribut yang bukan pengenal semu (status, saluran) dan dapat mempersempit kelas "
                     "dengannya: risiko sisa, dibatasi oleh akses bucket dan Pasal 10 Nota Kesepakatan.")
    lines += [
        "Tetangga atau pihak luar yang mengetahui pengenal semu seseorang menemukan kelas berisi sekurang-kurangnya k "
        "orang, dan bila kelas memuat nilai sensitif yang merugikan, sekurang-kurangnya l nilai berbeda.",
        "Operator pipeline (pemegang kunci induk dan zona tepercaya) dapat mengidentifikasi ulang setiap orang; kunci, "
        "zona landing dan zona tepercaya hanya dapat diakses pipeline.",
    ]
    return lines


MEASURES = [
    "Pengenal langsung (NIK, nama, telepon, paspor, alamat) dihapus atau diganti token HMAC-SHA256 berkunci khusus "
    "per penerima dan per jenis nilai (HKDF dari kunci induk yang hanya dipegang pipeline).",
    "Nomor rekam sistem sumber hanya dibagikan apa adanya kepada pihak yang mengelola sistem itu; pihak lain menerima "
    "token berkuncinya sendiri, sehingga rilis kedua pihak tidak dapat digabungkan melalui nomor tersebut.",
    "Tanggal peristiwa dipublikasikan per bulan (atau minggu ISO/tahun) kecuali ada justifikasi tertulis.",
    "k-anonimitas atas orang (bukan baris) pada semua kolom yang dapat diketahui penyerang, dan l-diversitas pada "
    "kolom sensitif; baris dalam kelas yang gagal digeneralisasi lebih lanjut, lalu disupresi. Manifest setiap rilis "
    "mencatat k dan l yang tercapai, porsi orang unik sebelum dan sesudah, baris yang disupresi dan sel yang dikosongkan.",
    "Pemeriksa kebocoran memblokir rilis yang memuat pola NIK, telepon, paspor atau surel, atau nilai kolom pengenal "
    "yang dihapus/ditokenkan.",
    "Setiap pihak hanya dapat membaca bucket-nya sendiri (kunci baca khusus), diuji dari luar pada server penyimpanan nyata.",
]

RESIDUAL = [
    "Komposisi: k dan l berlaku per rilis per bulan; penerima yang menghubungkan rilisnya sendiri melalui token "
    "menggabungkan pengenal semu beberapa dataset dan bulan sehingga kelas dapat menyempit.",
    "Pengelola sistem sumber mengetahui atribut yang bukan pengenal semu dan dapat memakainya untuk mempersempit kelas "
    "rekam miliknya sendiri dalam rilis pihak lain (bila rilis itu sampai kepadanya).",
    "Dataset kecil (pengaduan, PMI terlantar) kehilangan sebagian besar rinciannya atau disupresi; kebutuhan tindak "
    "lanjut kasus dilayani melalui pejabat penghubung (Pasal 12), bukan melalui rilis.",
    "Data yang dipseudonimkan tetap data pribadi (UU 27/2022); kerahasiaan di pihak penerima menjadi tanggung jawab "
    "penerima (Pasal 10).",
]


def _blocks(policy: Policy, party_name: str, measured: Mapping[str, dict] | None) -> list[tuple]:
    c = _context(policy, party_name, measured)
    p, a = c["party"], c["agreement"]
    b: list[tuple] = [
        ("h1", f"Draf Penilaian Dampak Pelindungan Data Pribadi — {p.title} ({p.name})"),
        ("p", "**Status: DRAF, belum disetujui.** Dihasilkan otomatis dari kebijakan berbagi data (config/policy.yaml, "
              f"versi {policy.version}) dan risiko terukur rilis terakhir di bucket {p.bucket}, untuk dilengkapi dan "
              "ditandatangani Pejabat/Petugas Pelindungan Data Pribadi (PPDP) kedua pihak (UU 27/2022 Pasal 34). "
              "Dokumen ini tidak memuat data pribadi. Isian bertanda " + BLANK + " adalah penilaian PPDP, bukan "
              "pipeline."),
        ("h2", "1. Identitas pemrosesan"),
        ("ul", [
            f"Penerima: {p.pihak} — {' '.join(p.organisation.split()) or p.title}",
            f"Pejabat penghubung: {p.contact or '-'}",
            f"Sistem sumber yang dikelola penerima: {', '.join(p.owns) or 'tidak ada'}",
            f"Dasar: {' '.join(a.title.split())} — Nomor {' / '.join(a.numbers)}, ditandatangani {a.signed}, "
            f"berlaku {a.valid_years} tahun",
            *a.legal,
            f"PPDP PIHAK KESATU: {BLANK}; PPDP PIHAK KEDUA: {BLANK}",
        ]),
        ("h2", "2. Mengapa penilaian dampak diperlukan (UU 27/2022 Pasal 34 ayat (2))"),
        ("table", ["huruf", "kriteria", "menurut kebijakan dan rilis", "konfirmasi PPDP"], _criteria(c)),
        ("h2", "3. Deskripsi sistematis pemrosesan"),
        ("p", "Tujuan ditulis dalam kebijakan (bahasa Inggris) dan dikutip apa adanya."),
        ("table", ["dataset", "sistem sumber", "tujuan", "dasar", "baris yang dibagikan", "kolom yang dipublikasikan"],
         [[d["name"], d["system"], d["purpose"], d["mou_article"], d["row_filter"],
           ", ".join(d["plan"].column_names)] for d in c["datasets"]]),
        ("h2", "4. Kebutuhan dan proporsionalitas"),
        ("table", ["dataset", "kolom tidak dibagikan (minimisasi)", "tanggal"],
         [[d["name"], ", ".join(d["withheld"] + [r.source for r in d["rows"] if r.output == "-"]) or "-",
           ", ".join(f"{col}: {GRAIN_ID[g]}" for col, g in d["dates"].items()) or "-"] for d in c["datasets"]]),
        ("p", f"Retensi (menurut kebijakan): {c['retention']}"),
        ("p", f"Penilaian PPDP atas kebutuhan dan proporsionalitas: {BLANK}"),
        ("h2", "5. Model penyerang dan risiko terukur"),
        ("table", ["dataset", "k wajib / tercapai", "l wajib / tercapai", "orang unik sebelum → sesudah",
                   "baris disupresi", "bulan"],
         [_risk_row(d) for d in c["datasets"]]),
    ]
    for d in c["datasets"]:
        model = policy.attacker_models.get(d["name"])
        items = [f"Model penyerang: {' '.join(model.description_id.split()) if model else '-'}"]
        if d["qis"]:
            items.append(f"Pengenal semu (k = {d['k']} orang per kelas): {', '.join(d['qis'])}")
        else:
            items.append(f"Tanpa pengenal semu: {d['no_person'] or 'k tidak berlaku'}")
        if d["sensitive"]:
            vals = "; ".join(f"{s} ({', '.join(d['sensitive_values'].get(s, ())) or 'semua nilai'})" for s in d["sensitive"])
            items.append(f"Kolom sensitif (l = {d['l']}): {vals}")
        items.append("Terukur: " + "; ".join(measured_lines(d["measured"], "id")))
        b += [("h3", d["name"]), ("ul", items)]
    b += [
        ("h2", "6. Siapa dapat mengidentifikasi ulang apa"),
        ("ul", _reidentification_id(policy, c)),
        ("h2", "7. Langkah pelindungan yang diterapkan"),
        ("ul", MEASURES),
        ("h2", "8. Risiko sisa"),
        ("ul", RESIDUAL),
        ("h2", "9. Penilaian PPDP (untuk dilengkapi)"),
        ("table", ["risiko", "kemungkinan (rendah/sedang/tinggi)", "dampak (rendah/sedang/tinggi)", "langkah tambahan",
                   "penanggung jawab"],
         [[r.split(":")[0], BLANK, BLANK, BLANK, BLANK] for r in RESIDUAL]
         + [["Akses tidak sah ke bucket penerima", BLANK, BLANK, BLANK, BLANK],
            ["Penggunaan di luar tujuan (Pasal 10)", BLANK, BLANK, BLANK, BLANK]]),
        ("ul", [
            f"Konsultasi (subjek data, pihak terkait): {BLANK}",
            "Kesimpulan: [ ] pemrosesan dapat dilanjutkan  [ ] dapat dilanjutkan dengan langkah tambahan  "
            "[ ] tidak dapat dilanjutkan",
            f"PPDP PIHAK KESATU — nama, tanda tangan, tanggal: {BLANK}",
            f"PPDP PIHAK KEDUA — nama, tanda tangan, tanggal: {BLANK}",
            f"Ditinjau kembali paling lambat: {BLANK}",
        ]),
    ]
    return b


def _risk_row(d: dict) -> list[str]:
    m = (d["measured"] or {}).get("disclosure") or {}
    if not d["qis"]:
        return [d["name"], "tidak berlaku", "tidak berlaku", "-", "-", (d["measured"] or {}).get("month", "-")]
    pct = lambda x: "-" if x is None else f"{100 * x:.1f} %"  # noqa: E731
    return [
        d["name"], f"{d['k']} / {m.get('k_achieved', '-')}",
        f"{d['l']} / {m.get('l_achieved', '-')}" if d["sensitive"] else "-",
        f"{pct(m.get('persons_unique_before'))} → {pct(m.get('persons_unique_after'))}" if m else "belum dipublikasikan",
        str(m.get("rows_suppressed", "-")), (d["measured"] or {}).get("month", "-"),
    ]


# -- rendering ------------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(policy: Policy, party: str, measured: Mapping[str, dict] | None = None) -> str:
    out: list[str] = []
    for block in _blocks(policy, party, measured):
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            out += [f"{'#' * int(kind[1])} {block[1]}", ""]
        elif kind == "p":
            out += [block[1], ""]
        elif kind == "ul":
            out += [f"- {item}" for item in block[1]] + [""]
        else:
            header, rows = block[1], block[2]
            out += [f"| {' | '.join(header)} |", "|" + "---|" * len(header)]
            out += [f"| {' | '.join(_md_cell(c) for c in r)} |" for r in rows] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def _inline(text: str) -> str:
    import re

    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(str(text), quote=True))


def render_html(policy: Policy, party: str, measured: Mapping[str, dict] | None = None) -> str:
    p = policy.party(party)
    parts = [
        "<!DOCTYPE html>", '<html lang="id"><head><meta charset="utf-8">',
        f"<title>Draf DPIA — {html.escape(p.title)}</title>",
        "<style>body{font-family:sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}"
        "th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}"
        "th{background:#f3f3f3}</style></head><body>",
    ]
    for block in _blocks(policy, party, measured):
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            parts.append(f"<{kind}>{_inline(block[1])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>")
        else:
            head = "".join(f"<th>{_inline(h)}</th>" for h in block[1])
            body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in block[2])
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render(policy: Policy, party: str, measured: Mapping[str, dict] | None = None) -> tuple[str, str]:
    """(markdown, html) draft impact assessment for ``party``."""
    registry.datasets()  # fail early on a broken registry, before rendering half a document
    return render_markdown(policy, party, measured), render_html(policy, party, measured)
