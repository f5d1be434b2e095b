"""Reports produced from the stored data; ``reports.annual`` is the yearly report."""
