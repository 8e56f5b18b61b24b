-- Languages (scheduler/languages.py): the one a guest booked in, which their later emails and
-- manage page keep (NULL for bookings made before: English), and the one a person reads their
-- own emails in. BCP 47 tags, checked by the API against the languages we have.
ALTER TABLE bookings ADD COLUMN guest_language text CONSTRAINT bookings_guest_language_check
    CHECK (length(guest_language) <= 35);
ALTER TABLE booking_seats ADD COLUMN guest_language text CONSTRAINT booking_seats_guest_language_check
    CHECK (length(guest_language) <= 35);
ALTER TABLE users ADD COLUMN locale text NOT NULL DEFAULT 'en' CONSTRAINT users_locale_check
    CHECK (length(locale) <= 35);
