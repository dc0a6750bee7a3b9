"""What an institution's staff and an item's followers read about deadlines (pure, in the active language)."""

from __future__ import annotations

from idmx import i18n
from idmx.i18n import gettext as _
from idmx.i18n import ngettext
from idmx.notify import links
from idmx.reminders.rules import Notice


def staff_subject(kind: str, title: str) -> str:
    subjects = {
        "assigned": _("New item in your open-up plan: “%(title)s”"),
        "due_10": _("Due in 10 business days or fewer: “%(title)s”"),
        "due_3": _("Due in 3 business days or fewer: “%(title)s”"),
        "overdue": _("Overdue: “%(title)s”"),
    }
    return subjects[kind] % {"title": title}


def _what(notice: Notice) -> str:
    when = i18n.format_date(notice.deadline)
    if notice.action == "answer":
        return _("Answer it (commit to a publication date or deny it with its legal basis) by %(date)s.") % {"date": when}
    return _("Publish it by %(date)s, the date your institution committed to.") % {"date": when}


def staff_body(notice: Notice, title: str, acronym: str, staff_path: str) -> str:
    if notice.kind == "assigned":
        head = _("“%(title)s” is now in the open-up plan of %(institution)s.") % {"title": title, "institution": acronym}
    elif notice.kind == "overdue":
        head = _("“%(title)s” (%(institution)s) is overdue: its deadline, %(date)s, has passed.") % {
            "title": title, "institution": acronym, "date": i18n.format_date(notice.deadline)}
    else:
        head = ngettext("“%(title)s” (%(institution)s): %(num)s business day left.",
                        "“%(title)s” (%(institution)s): %(num)s business days left.", notice.days_left) % {
            "title": title, "institution": acronym, "num": notice.days_left}
    parts = [head]
    if notice.kind != "overdue":
        parts.append(_what(notice))
    parts.append(_("Answer it in your open-up plan:") + "\n" + links.absolute(staff_path))
    parts.append("-- \n" + _("You receive this e-mail because you administer your institution's open-up plan on IDMX."))
    return "\n\n".join(parts) + "\n"


def follower_subject(title: str) -> str:
    return _("Overdue: “%(title)s”") % {"title": title}


def follower_body(item_id: int, title: str, acronym: str, notice: Notice, unsubscribe_path: str) -> str:
    if notice.action == "answer":
        head = _("%(institution)s has not answered “%(title)s” by %(date)s, the date it had to answer by.")
    else:
        head = _("%(institution)s has not published “%(title)s” by %(date)s, the date it committed to.")
    parts = [head % {"institution": acronym, "title": title, "date": i18n.format_date(notice.deadline)},
             _("See the item and its full history:") + "\n" + links.absolute(links.item_path(item_id)),
             "-- \n" + _("You receive this e-mail because you follow this item on IDMX. To stop following it:")
             + "\n" + links.absolute(unsubscribe_path)]
    return "\n\n".join(parts) + "\n"
