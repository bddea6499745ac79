"""Member search: find members by card code prefix, by their customer's e-mail or external
customer id, through lookup items (never a scan)."""
