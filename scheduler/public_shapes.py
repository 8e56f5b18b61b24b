"""What strangers are shown through booking links and manage tokens, as the OpenAPI
description names it: the shapes the public and guest blueprints share (booking_links
builds them)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from .openapi import Shape


class Person(Shape):
    name: str


class GuestContact(Shape):
    name: str
    email: str


class GuestView(Shape):
    start: datetime
    end: datetime
    timezone: str = Field(description="The guest's zone, which the times are written in.")
    language: str = Field(description="The guest's language (BCP 47), which their emails and manage page use.")
    title: str
    status: Literal["confirmed", "pending", "declined", "expired", "cancelled"] = Field(description=(
        "`pending`: a request the host has yet to confirm (it holds the time); `declined` or `expired`: a request "
        "the host declined or did not answer in time. A seat's status is the seat's."))
    location: str | None
    host: Person = Field(description="The organiser: the host, or the team's host who took it.")
    hosts: list[Person] = Field(description="Every host attending (a collective team's: all of them).")
    guest: GuestContact
    series_id: int | None = Field(description="The series it is an occurrence of, if any.")
    occurrence: int | None = Field(description="Which occurrence of its series (1 is the first), if any.")
    expires_at: datetime | None = Field(description="A request's: until when the host can confirm it (the time "
                                                    "is held until then); null otherwise.")


OnConflict = Literal["fail", "skip"]


class SeriesShown(Shape):
    id: int
    recurrence: dict = Field(description="The rule as given (`freq`, `interval`, `count` or `until`, `byday`).")
    count: int = Field(description="Occurrences booked.")


class Policy(Shape):
    requires_confirmation: bool = Field(description="A booking is a request until the host confirms it.")
    seats: int | None = Field(description="Guests at one start share one booking, up to this many; null: one.")
    cancel_notice: int = Field(description="Minutes before the start after which a guest can no longer cancel.")
    reschedule_notice: int = Field(description="Minutes before the start after which a guest can no longer "
                                               "reschedule.")


class OccurrenceConflict(Shape):
    occurrence: int = Field(description="Which occurrence of the series (1 is the first).")
    start: datetime
    end: datetime
    reason: Literal["busy", "away", "fully_booked", "not_offered", "too_soon", "too_far_ahead"] = Field(
        description="`busy`: a booking or a calendar's busy time; `away`: time off; `fully_booked`: a daily or weekly "
                    "limit of the type (counting the series' own earlier occurrences); the others: outside the hours "
                    "or the window the link offers.")
    user_id: int | None = Field(default=None, description="Whose time it is (my own series only).")


class Assignment(Shape):
    host: Person
    reason: Literal["only_host_free", "fewest_bookings", "least_recently_assigned", "lowest_id", "same_host"] = Field(
        description="Which rule chose the round-robin host among those free: the only one free; the fewest bookings "
                    "of the type in the host-local ISO week (divided by weight); assigned least recently; lowest id; "
                    "(a reschedule) the booking's own host, free at the new time.")
