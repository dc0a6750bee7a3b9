"""The staff workspace: central team and institutions run consultations, moderate and answer."""
