"""Renderers every download shares (pure): CSV safe to open in a spreadsheet, XLSX, and the rendered file."""
