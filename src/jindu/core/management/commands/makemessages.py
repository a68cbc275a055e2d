"""``makemessages`` that also extracts ``_lazy("…")``: modules that need both gettext (``_``) and gettext_lazy
import the lazy one as ``_lazy`` (form labels, choices), and xgettext knows only the names Django gives it."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_lazy"]
