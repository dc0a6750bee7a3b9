"""Downloads: CSV (and later XLSX, JSON, DCAT) safe to open in a spreadsheet."""
