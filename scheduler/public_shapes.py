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
