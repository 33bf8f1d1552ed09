"""Business rules every service shares (age and region), as pure functions over data files."""
