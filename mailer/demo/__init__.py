"""Development only: the fictional demo content and the first run's seeding."""
