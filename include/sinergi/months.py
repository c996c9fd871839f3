"""The month: the unit of work of every Sinergi run (one dataset × one month × one party).

A month is written ``YYYY-MM`` everywhere a person or a file meets it (params, object keys,
manifests). It is parsed once, strictly (``"2025-07\\n"``, ``"2025-7"`` and ``" 2025-07"`` are
refused), and carried as a :class:`Month` from then on. The business calendar is Asia/Jakarta
(WIB): a month's interval runs from the 1st 00:00 WIB to the next 1st 00:00 WIB, and the monthly
run for July starts on 1 August (its data interval is July).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sinergi.errors import PermanentError

#: The agreement's business time zone (WIB). The one place it is spelled.
TIMEZONE = "Asia/Jakarta"
JAKARTA = ZoneInfo(TIMEZONE)
#: For Airflow's trigger form (an empty value means "the data interval's month"). Not ``$``: Airflow
#: checks the pattern with Python's ``re.search``, where ``$`` also matches before a trailing newline
#: ("2025-07\n"); ``(?![\s\S])`` is the end of the text in Python and in the browser's JavaScript alike.
PARAM_PATTERN = r"^(|\d{4}-(0[1-9]|1[0-2]))(?![\s\S])"

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class MonthError(PermanentError, ValueError):
    """A month that is not written ``YYYY-MM`` (the message shows what was given)."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 1 <= self.year <= 9999):
            raise MonthError(f"month must look like YYYY-MM, got year={self.year!r} month={self.month!r}")

    # -- parsing -----------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Month:
        """Strict: exactly ``YYYY-MM`` (no whitespace, no newline, month 01–12)."""
        m = _MONTH.fullmatch(text) if isinstance(text, str) else None
        if m is None:
            raise MonthError(f"month must look like YYYY-MM, got {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, value: Month | str) -> Month:
        """A Month from a Month or its ``YYYY-MM`` text."""
        return value if isinstance(value, Month) else cls.parse(value)

    @classmethod
    def containing(cls, moment: dt.date | dt.datetime) -> Month:
        """The month a date (or an instant, seen in Asia/Jakarta) falls in."""
        if isinstance(moment, dt.datetime) and moment.tzinfo is not None:
            moment = moment.astimezone(JAKARTA)
        return cls(moment.year, moment.month)

    @classmethod
    def from_data_interval(cls, start: dt.datetime) -> Month:
        """The month an Airflow run processes: its data interval's start, in Asia/Jakarta."""
        return cls.containing(start)

    @classmethod
    def last_complete(cls, now: dt.datetime | None = None) -> Month:
        """The last month that has ended in Asia/Jakarta."""
        return cls.containing(now or dt.datetime.now(JAKARTA)).add(-1)

    # -- text ------------------------------------------------------------------------------------
    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def compact(self) -> str:
        """``YYYYMM``, as export file names carry it."""
        return f"{self.year:04d}{self.month:02d}"

    @property
    def hive_path(self) -> str:
        """``year=YYYY/month=MM``: the partition path of the publication contract."""
        return f"year={self.year:04d}/month={self.month:02d}"

    # -- arithmetic ------------------------------------------------------------------------------
    def add(self, n: int) -> Month:
        k = self.year * 12 + (self.month - 1) + n
        return Month(k // 12, k % 12 + 1)

    def __add__(self, n: int) -> Month:
        return self.add(n) if isinstance(n, int) else NotImplemented

    def __sub__(self, n: int) -> Month:
        return self.add(-n) if isinstance(n, int) else NotImplemented

    def until(self, last: Month | str) -> list[Month]:
        """This month through ``last``, inclusive (empty when ``last`` is earlier)."""
        last = Month.of(last)
        out, m = [], self
        while m <= last:
            out.append(m)
            m = m.add(1)
        return out

    # -- calendar --------------------------------------------------------------------------------
    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return self.add(1).first_day - dt.timedelta(days=1)

    @property
    def bounds(self) -> tuple[dt.date, dt.date]:
        """First and last day (inclusive)."""
        return self.first_day, self.last_day

    def interval(self, aware: bool = True) -> tuple[dt.datetime, dt.datetime]:
        """[1st 00:00, next 1st 00:00) in Asia/Jakarta; naive wall-clock times with ``aware=False``
        (for database columns that store Jakarta local time without a zone)."""
        start = dt.datetime(self.year, self.month, 1)
        end = dt.datetime(*self.add(1).first_day.timetuple()[:3])
        if aware:
            return start.replace(tzinfo=JAKARTA), end.replace(tzinfo=JAKARTA)
        return start, end

    @property
    def logical_date(self) -> str:
        """The logical date of this month's monthly run (its data-interval start, 03:00 WIB on the 1st,
        as the monthly DAGs' cron schedules it), ISO with the +07:00 offset."""
        return f"{self.year:04d}-{self.month:02d}-01T03:00:00+07:00"


def parse(text: str) -> Month:
    """Shorthand for :meth:`Month.parse`."""
    return Month.parse(text)


def parse_instant(text: str | None) -> dt.datetime | None:
    """A timestamp as the records write it (ISO 8601, ``Z`` or an offset; naive = UTC), or None when
    absent or unreadable — records from older runs may lack one."""
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
