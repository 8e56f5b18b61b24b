-- Embedding a booking page on the host's own site (docs/booking-links.md, "Embedding"): the
-- origins (scheme://host[:port], normalised by the API) whose pages may frame the type's
-- booking page, named in its Content-Security-Policy's frame-ancestors. Empty: none may.
ALTER TABLE event_types
    ADD COLUMN embed_origins text[] NOT NULL DEFAULT '{}'
        CONSTRAINT event_types_embed_origins_check CHECK (cardinality(embed_origins) <= 10);
