"""The shop's own facts: its profile (shipping, returns, invoices, hours …), its products and their size charts."""
