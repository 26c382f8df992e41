"""Windows in working days honour the named country's public holidays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from conftest import FACILITATOR

from peerflow import Actor, Programme, StepBlocked, WindowClosed, compile_text
from peerflow.model._calendar import (
    add_working_days,
    bound_day,
    is_working_day,
    local_date,
    start_of_day,
)
from peerflow.model._types import Bound

CEST = timezone(timedelta(hours=2))

FINAL_DOCUMENT = """\
id: final-document
version: 1
title: The final document within 5 working days after the final meeting
timezone: Europe/Brussels
country: {country}
roles:
  secretariat: {{}}
  city: {{}}
states:
  review: {{}}
  after_meeting: {{}}
  done: {{terminal: true}}
initial: review
deliverables:
  final_document:
    title: Final document
    owed_by: [city]
    during: [after_meeting]
    window:
      closes: {{after: final_meeting, working_days: 5}}
transitions:
  - event: final_meeting
    from: review
    to: after_meeting
    by: secretariat
  - event: close
    from: after_meeting
    to: done
    by: secretariat
    requires: [final_document]
"""

SECRETARIAT, CITY = Actor("secretariat", "sec"), Actor("city", "city")


def after_final_meeting(country: str) -> Programme:
    definition = compile_text(FINAL_DOCUMENT.format(country=country), f"{country}.yaml")
    p = Programme.start(
        definition,
        "er-1",
        at=datetime(2027, 4, 26, 9, tzinfo=CEST),
        actor=SECRETARIAT,
        participants=[("sec", "secretariat"), ("city", "city")],
    )
    # Monday 3 May 2027; Thursday 6 May is Ascension Day, a public holiday in Belgium.
    p.fire("final_meeting", at=datetime(2027, 5, 3, 15, tzinfo=CEST), actor=SECRETARIAT)
    return p


@pytest.mark.rule("ER-07")
def test_holiday_inside_the_window_extends_it() -> None:
    assert not is_working_day(date(2027, 5, 6), "BE")  # the holidays package agrees
    p = after_final_meeting("BE")
    # Tue 4, Wed 5, (Thu 6 holiday), Fri 7, Mon 10, Tue 11: the fifth working day is 11 May.
    p.submit("final_document", at=datetime(2027, 5, 11, 17, tzinfo=CEST), actor=CITY)
    assert p.state.has_submitted("final_document", "city")


def test_window_closes_after_the_fifth_working_day() -> None:
    p = after_final_meeting("BE")
    with pytest.raises(StepBlocked) as refused:
        p.submit("final_document", at=datetime(2027, 5, 12, 9, tzinfo=CEST), actor=CITY)
    (blocker,) = refused.value.blockers
    assert isinstance(blocker, WindowClosed)
    assert blocker.closed_at == datetime(2027, 5, 12, tzinfo=CEST)


def test_country_without_that_holiday_closes_a_day_earlier() -> None:
    # Ascension Day is not a public holiday in Poland.
    assert is_working_day(date(2027, 5, 6), "PL")
    p = after_final_meeting("PL")
    with pytest.raises(StepBlocked):
        p.submit("final_document", at=datetime(2027, 5, 11, 9, tzinfo=CEST), actor=CITY)


def test_working_days_skip_weekends_both_ways() -> None:
    friday = date(2027, 1, 8)
    assert add_working_days(friday, 1, "BE") == date(2027, 1, 11)
    assert add_working_days(date(2027, 1, 11), 1, "BE", direction=-1) == friday


def test_zoneinfo_times_in_the_repeated_dst_hour_keep_their_order(
    new_programme: Callable[[], Programme],
) -> None:
    """02:34 CEST then 02:33 CET (an hour later): Python compares one ZoneInfo by wall clock."""
    brussels = ZoneInfo("Europe/Brussels")
    p = new_programme()
    first = datetime(2027, 10, 31, 2, 34, tzinfo=brussels)  # fold=0: CEST, 00:34 UTC
    later = datetime(2027, 10, 31, 2, 33, fold=1, tzinfo=brussels)  # CET, 01:33 UTC
    assert later < first  # the trap: wall-clock comparison
    p.schedule("orientation_date", date(2027, 11, 15), at=first, actor=FACILITATOR)
    p.schedule("orientation_date", date(2027, 11, 16), at=later, actor=FACILITATOR)
    assert p.history[-1].at.utcoffset() == timedelta(hours=1)
    assert p.state.last_at > p.history[-2].at


# --- each country's own weekend and moved working days (the holidays package knows them) ---


@pytest.mark.parametrize(
    ("country", "after", "count", "expected"),
    [
        # Hungary works Saturday 3 August 2024 (moved for the bridge day of 19 August)
        ("HU", date(2024, 7, 29), 5, date(2024, 8, 3)),
        # Israel's weekend is Friday and Saturday: the working day after a Thursday is Sunday
        ("IL", date(2024, 7, 25), 1, date(2024, 7, 28)),
        # Belgium: Monday to Friday
        ("BE", date(2024, 7, 25), 1, date(2024, 7, 26)),
    ],
)
def test_working_days_follow_the_country_s_week(
    country: str, after: date, count: int, expected: date
) -> None:
    assert add_working_days(after, count, country) == expected


@pytest.mark.parametrize("country", ["HU", "LV", "CN", "IL", "AE", "BE", "DE"])
def test_working_days_agree_with_the_holidays_package(country: str) -> None:
    """holidays' own count (an implementation we do not write) over two years of start days."""
    import holidays  # noqa: PLC0415

    calendar = holidays.country_holidays(country, years=range(2023, 2027))
    day = date(2024, 1, 1)
    while day < date(2026, 1, 1):
        for count in (1, 5, 10):
            assert add_working_days(day, count, country) == calendar.get_nth_working_day(
                day, count
            ), (country, day, count)
        day += timedelta(days=3)


def test_a_day_starts_at_its_first_instant_where_midnight_repeats() -> None:
    """Cuba ends summer time on the first Sunday of November at 01:00, back to 00:00
    (tz database, zone America/Havana): on 2024-11-03 midnight happens twice, first at
    UTC-4. The day starts then, and the window closing at the end of 2 November closes then."""
    from peerflow.model._calendar import closing_instant, start_of_day  # noqa: PLC0415
    from peerflow.model._types import Bound  # noqa: PLC0415

    first = start_of_day(date(2024, 11, 3), "America/Havana")
    assert first == datetime(2024, 11, 3, 4, tzinfo=UTC)
    assert first.utcoffset() == timedelta(hours=-4)
    one_day = Bound(after="start", days=1)
    assert closing_instant(one_day, date(2024, 11, 1), "America/Havana", None) == first


def test_a_day_whose_midnight_is_skipped_starts_at_one() -> None:
    """Cuba starts summer time on the second Sunday of March at 00:00, straight to 01:00."""
    from peerflow.model._calendar import start_of_day  # noqa: PLC0415

    first = start_of_day(date(2024, 3, 10), "America/Havana")
    assert first == datetime(2024, 3, 10, 5, tzinfo=UTC)
    assert (first.hour, first.utcoffset()) == (1, timedelta(hours=-4))


def test_a_regions_own_holiday_counts_only_there() -> None:
    """Epiphany (6 January) is a public holiday in Bavaria, not in Germany as a whole: one
    working day after Tuesday 5 January 2027 is the 7th in Bavaria and the 6th elsewhere."""
    assert not is_working_day(date(2027, 1, 6), "DE", "BY")
    assert is_working_day(date(2027, 1, 6), "DE")
    assert add_working_days(date(2027, 1, 5), 1, "DE", "BY") == date(2027, 1, 7)
    assert add_working_days(date(2027, 1, 5), 1, "DE") == date(2027, 1, 6)
    bavarian = Bound(after="meeting", working_days=1, country="DE", subdivision="BY")
    assert bound_day(bavarian, date(2027, 1, 5), None) == date(2027, 1, 7)


def test_a_bound_before_its_anchor_counts_working_days_back() -> None:
    """Two working days before Monday 11 January 2027 is Thursday 7 January."""
    before = Bound(before="visit_date", working_days=2, country="BE")
    assert bound_day(before, date(2027, 1, 11), None) == date(2027, 1, 7)


def test_a_bound_s_own_country_wins_over_the_programme_s() -> None:
    """26 December 2022 is a working day in Belgium and a holiday in the Netherlands; a bound
    that names Belgium counts it wherever the programme is."""
    belgian = Bound(after="meeting", working_days=4, country="BE")
    assert bound_day(belgian, date(2022, 12, 20), "NL") == date(2022, 12, 26)
    plain = Bound(after="meeting", working_days=4)
    assert bound_day(plain, date(2022, 12, 20), "NL") == date(2022, 12, 27)


def test_working_days_without_any_country_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^working_days need a country$"):
        bound_day(Bound(after="meeting", working_days=1), date(2027, 1, 5), None)


def test_a_moment_falls_on_its_day_in_the_programme_s_zone() -> None:
    """23:30 UTC on New Year's Eve is already 1 January in Brussels (and still the 31st
    in New York), whatever zone the host machine runs in."""
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert local_date(late, "Europe/Brussels") == date(2027, 1, 1)
    assert local_date(late, "America/New_York") == date(2026, 12, 31)


def test_a_day_in_utc_starts_at_midnight_with_a_zero_offset() -> None:
    first = start_of_day(date(2027, 3, 1), "UTC")
    assert first == datetime(2027, 3, 1, tzinfo=UTC)
    assert first.utcoffset() == timedelta(0)


def test_calendar_amounts_count_forward_after_and_back_before() -> None:
    """'closes one week before the visit': the visit on Monday 11 January 2027 gives Monday
    4 January; a month after 31 January is the last day of February."""
    assert bound_day(Bound(before="visit_date", weeks=1), date(2027, 1, 11), None) == date(
        2027, 1, 4
    )
    assert bound_day(Bound(after="start", months=1), date(2027, 1, 31), None) == date(2027, 2, 28)
    assert bound_day(Bound(after="start", years=1, days=2), date(2027, 1, 11), None) == date(
        2028, 1, 13
    )
