"""The content feed: sources polled, parsed and sanitised; the item store; items the CMS pushes."""
