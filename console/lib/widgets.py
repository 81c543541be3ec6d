"""Form widgets for choices that grow with the console (every project, every adapter)."""

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join


class LongSelect(forms.Select):
    """A <select> written out in Python: Django's Select renders a template per option, about
    0.2 ms each, which is most of a page listing 1,000 projects and 1,000 adapters."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(v) for v in self.format_value(value)}
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((key, " selected" if str(key) in chosen else "", label) for key, label in self.choices),
        )
        return format_html(
            "<select{}>{}</select>", flatatt({**self.build_attrs(self.attrs, attrs), "name": name}), options
        )
