"""A Go ``text/template`` subset, enough for Ollama's library templates. Pure; no I/O.

Supported: text and ``{{ }}`` actions with ``{{-`` / ``-}}`` trimming and ``{{/* comments */}}``;
pipelines with ``|``; fields (``.A.B``, ``$.A``, ``$x.A``, ``.``, ``$``); string (``"..."``,
`` `raw` ``), number, ``true``/``false``/``nil`` literals; parenthesised pipelines; variables
(``$x := p``, ``$x = p``); ``if``/``else if``/``else``/``end``, ``range`` (with ``$i, $v :=``,
``else``), ``with`` (``else``); the functions ``and or not eq ne lt le gt ge len slice index json
printf print println html urlquery currentDate``. ``define``/``template``/``block`` are not.

Values: dicts stand for Go structs and maps (a missing key is "no value", printed as
``<no value>`` like Go); objects whose ``__str__`` gives JSON (:class:`JsonText`) print as JSON.
Errors (:class:`TemplateError`) name the position; parse errors are raised by :func:`parse`, so a
template can be checked once at load time.

Templates may come from requests, so parsing is linear in the source and nests at most
:attr:`Limits.max_depth` blocks or parentheses, and every execution runs within a
:class:`Budget`: a number of steps, of characters produced (output and strings made by functions)
and of seconds, with ``range`` over an integer bounded; exceeding any is a :class:`TemplateError`
(:class:`BudgetExceeded`). ``slice`` of a list is a view, as in Go, not a copy.
"""

from registry.modelserver.prompt.gotemplate.budget import Budget, BudgetExceeded, Limits, TemplateError
from registry.modelserver.prompt.gotemplate.execution import Template, parse
from registry.modelserver.prompt.gotemplate.functions import JsonValue

__all__ = ["Budget", "BudgetExceeded", "JsonValue", "Limits", "Template", "TemplateError", "parse"]
