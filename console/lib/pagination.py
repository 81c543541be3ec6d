from functools import cached_property

from django.core.paginator import Page, Paginator


class CountedPaginator(Paginator):
    """A Paginator told its count (kept by counters or histograms) instead of running COUNT(*),
    which costs in proportion to the rows it counts."""

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


class UncountedPaginator(Paginator):
    """A Paginator that never counts: a page reads one row past its end to know whether there is
    a next one. For lists that only grow (the audit log): "Page n", Previous and Next, no "of m"
    (num_pages is None); a page past the end is empty."""

    @cached_property
    def count(self):
        raise TypeError("an UncountedPaginator does not count its rows")

    @property
    def num_pages(self):
        return None

    def get_page(self, number) -> Page:
        try:
            number = max(1, int(number))
        except (TypeError, ValueError):
            number = 1
        start = (number - 1) * self.per_page
        rows = list(self.object_list[start : start + self.per_page + 1])
        return UncountedPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)


class UncountedPage(Page):
    def __init__(self, object_list, number, paginator, *, more: bool):
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more

    def has_previous(self) -> bool:
        return self.number > 1

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    def start_index(self) -> int:
        return (self.number - 1) * self.paginator.per_page + 1 if self.object_list else 0

    def end_index(self) -> int:
        return (self.number - 1) * self.paginator.per_page + len(self.object_list)
