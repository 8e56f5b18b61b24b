"""What every event type has, a person's or an organisation's: the fields of the request bodies
that make and change one, and those of the shape it is shown in. The event types blueprints
(personal and team) add what only their kind has."""

from datetime import datetime
from typing import Annotated

from pydantic import Field

from .openapi import Shape
from .validation import Body, Location, Paragraphs, Slug, Title, Whole

Description = Paragraphs(5000)
Duration = Annotated[int, Field(ge=5, le=720), Whole]
Buffer = Annotated[int, Field(ge=0, le=240), Whole]
Notice = Annotated[int, Field(ge=0, le=525600), Whole]
WindowDays = Annotated[int, Field(ge=1, le=365), Whole]
DailyLimit = Annotated[int, Field(ge=1, le=100), Whole]
WeeklyLimit = Annotated[int, Field(ge=1, le=500), Whole]
MaxOccurrences = Annotated[int, Field(ge=1, le=52), Whole]
ConfirmationHours = Annotated[int, Field(ge=1, le=168), Whole]
Seats = Annotated[int, Field(ge=2, le=1000), Whole]

REQUIRES_CONFIRMATION = ("A guest's booking is a request (`pending`, holding its time) until I confirm or decline it, "
                         "or `confirmation_hours` pass.")
CONFIRMATION_HOURS = "Hours a request waits for my answer before it expires (or until its start, if sooner)."
SEATS = ("Guests booking the same start share one booking, up to this many; null: one guest per booking. Not with "
         "`requires_confirmation`.")
CANCEL_NOTICE = "Minutes before the start after which a guest can no longer cancel (I always can)."
RESCHEDULE_NOTICE = "Minutes before the start after which a guest can no longer reschedule (I always can)."


class EventTypeFields(Body):
    slug: Slug
    title: Title
    description: Description | None = None
    location: Location | None = None
    duration: Duration
    step: Duration | None = None
    buffer_before: Buffer = 0
    buffer_after: Buffer = 0
    minimum_notice: Notice = 60
    booking_window: WindowDays = 60
    daily_limit: DailyLimit | None = None
    weekly_limit: WeeklyLimit | None = None
    max_occurrences: MaxOccurrences = Field(default=1, description="How many occurrences a guest may book as one "
                                                                   "series; 1: single bookings only (the only "
                                                                   "choice with approval or seats).")
    requires_confirmation: bool = Field(default=False, description=REQUIRES_CONFIRMATION)
    confirmation_hours: ConfirmationHours = Field(default=24, description=CONFIRMATION_HOURS)
    seats: Seats | None = Field(default=None, description=SEATS)
    cancel_notice: Notice = Field(default=0, description=CANCEL_NOTICE)
    reschedule_notice: Notice = Field(default=0, description=RESCHEDULE_NOTICE)
    active: bool = True


class EventTypeChanges(Body):
    """Only description, location, daily_limit, weekly_limit and seats may be set to null (cleared); a
    field left out stays as it is (the None default is never validated, so an explicit null is a
    400)."""

    slug: Slug = None
    title: Title = None
    description: Description | None = None
    location: Location | None = None
    duration: Duration = None
    step: Duration = None
    buffer_before: Buffer = None
    buffer_after: Buffer = None
    minimum_notice: Notice = None
    booking_window: WindowDays = None
    daily_limit: DailyLimit | None = None
    weekly_limit: WeeklyLimit | None = None
    max_occurrences: MaxOccurrences = None
    requires_confirmation: bool = None
    confirmation_hours: ConfirmationHours = None
    seats: Seats | None = None
    cancel_notice: Notice = None
    reschedule_notice: Notice = None
    active: bool = None


class EventTypeShape(Shape):
    id: int
    slug: str
    title: str
    description: str | None
    location: str | None
    duration: int = Field(description="Minutes.")
    step: int = Field(description="Minutes between offered starts, counted from each working interval's start.")
    buffer_before: int = Field(description="Minutes before a booking that must stay free.")
    buffer_after: int = Field(description="Minutes after a booking that must stay free.")
    minimum_notice: int = Field(description="Minutes: no start sooner than this from now.")
    booking_window: int = Field(description="Days: no start further ahead than this.")
    daily_limit: int | None = Field(description="Bookings of this type per host-local day.")
    weekly_limit: int | None = Field(description="Bookings of this type per host-local ISO week (Monday to Sunday).")
    max_occurrences: int = Field(description="How many occurrences a guest may book as one series (1: none).")
    requires_confirmation: bool = Field(description=REQUIRES_CONFIRMATION)
    confirmation_hours: int = Field(description=CONFIRMATION_HOURS)
    seats: int | None = Field(description=SEATS)
    cancel_notice: int = Field(description=CANCEL_NOTICE)
    reschedule_notice: int = Field(description=RESCHEDULE_NOTICE)
    active: bool
    created_at: datetime
    updated_at: datetime
