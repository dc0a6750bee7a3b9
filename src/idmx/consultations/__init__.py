"""Public participation: consultations, anonymous respondents, proposals and votes."""
