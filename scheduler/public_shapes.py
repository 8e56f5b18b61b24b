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
    title: str
    status: Literal["confirmed", "cancelled"]
    location: str | None
    host: Person = Field(description="The organiser: the host, or the team's host who took it.")
    hosts: list[Person] = Field(description="Every host attending (a collective team's: all of them).")
    guest: GuestContact


class Assignment(Shape):
    host: Person
    reason: Literal["only_host_free", "fewest_bookings", "least_recently_assigned", "lowest_id", "same_host"] = Field(
        description="Which rule chose the round-robin host among those free: the only one free; the fewest bookings "
                    "of the type in the host-local ISO week (divided by weight); assigned least recently; lowest id; "
                    "(a reschedule) the booking's own host, free at the new time.")
