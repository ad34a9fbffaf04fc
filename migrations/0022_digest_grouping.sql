-- How a digest arranges its items: under topic headings, sections in the order of their
-- first item as the editor placed it ('topic'), or exactly as ordered, without headings.
ALTER TABLE mailings ADD COLUMN item_grouping text NOT NULL DEFAULT 'topic'
    CHECK (item_grouping IN ('topic', 'order'));
