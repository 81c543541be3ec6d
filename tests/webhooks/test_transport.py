"""SSRF: a delivery goes only to http(s) URLs whose every address is public, unless private ranges
are allowed; link-local and cloud metadata addresses never; no redirect is followed; only the
first bytes of an answer are read. Each forbidden class is refused before any connection."""

import socket

import pytest

from webhooks import transport

FORBIDDEN_WITHOUT_THE_SETTING = [
    ("http://127.0.0.1:{port}/hook", "loopback"),
    ("http://localhost:{port}/hook", "loopback"),  # a name is resolved and its address checked
    ("http://[::1]:{port}/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]:{port}/hook", "loopback"),  # IPv4-mapped IPv6
    ("http://10.0.0.1/hook", "private"),
    ("http://172.16.0.1/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
    ("http://100.64.0.1/hook", "private"),  # carrier-grade NAT
    ("http://[fc00::1]/hook", "private"),  # unique local
]
NEVER = [
    "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    "http://169.254.0.1/",
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS's IPv6 metadata service
    "http://[fe80::1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://[::a9fe:a9fe]/",  # IPv4-compatible IPv6 (::/8, reserved) of 169.254.169.254
    "http://[::7f00:1]/",  # IPv4-compatible 127.0.0.1: reserved, not loopback
    "http://[100::1]/",  # the IPv6 discard prefix
    "http://192.0.0.192/",  # Oracle Cloud's metadata service, in 192.0.0.0/24
    "http://192.0.0.1/",
    "http://100.100.100.200/",  # Alibaba Cloud's metadata service, inside carrier-grade NAT
]


def post(url, *, allow_private):
    return transport.post(
        url, b"{}", {"Content-Type": "application/json"}, allow_private=allow_private, timeout=5
    )


@pytest.mark.parametrize("template,kind", FORBIDDEN_WITHOUT_THE_SETTING)
def test_it_refuses_private_and_loopback_addresses_without_the_setting(receiver, template, kind):
    port = receiver.url.split(":")[2].split("/")[0]
    with pytest.raises(transport.Refused, match=f"a {kind} address, refused unless WEBHOOKS_ALLOW_PRIVATE"):
        post(template.format(port=port), allow_private=False)
    assert receiver.requests == []


@pytest.mark.parametrize("url", NEVER)
@pytest.mark.parametrize("allow_private", [False, True])
def test_it_never_calls_link_local_or_metadata_addresses(url, allow_private):
    with pytest.raises(transport.Refused, match="never allowed"):
        post(url, allow_private=allow_private)


@pytest.mark.parametrize(
    "url,reason",
    [
        ("ftp://example.com/hook", "only http and https URLs are called, not ftp"),
        ("file:///etc/passwd", "only http and https URLs are called, not file"),
        ("gopher://example.com/", "only http and https URLs are called, not gopher"),
        ("https://user:pw@example.com/hook", "a URL with a user name or password is not called"),
        ("http://example.com:99999/", "port is not a number"),
        ("http:///hook", "the URL has no host"),
    ],
)
def test_it_calls_only_http_and_https_urls_without_credentials(url, reason):
    with pytest.raises(transport.Refused, match=reason):
        post(url, allow_private=True)


def test_with_the_setting_it_delivers_to_a_receiver_on_loopback(receiver):
    answer = post(receiver.url, allow_private=True)
    assert (answer.status, answer.excerpt, answer.address) == (200, "ok", "127.0.0.1")
    (request,) = receiver.requests
    assert request.path == "/hook" and request.body == b"{}"
    assert request.headers["Host"] == receiver.url.split("/")[2]


def test_it_does_not_follow_a_redirect(receiver):
    receiver.answers = [(302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")]
    answer = post(receiver.url, allow_private=True)
    assert answer.status == 302
    assert len(receiver.requests) == 1


def test_it_reads_only_the_first_bytes_of_the_answer(receiver):
    receiver.answers = [(200, {}, b"<b>" + b"x" * 1_000_000)]
    answer = post(receiver.url, allow_private=True)
    assert len(answer.excerpt) == transport.EXCERPT_BYTES and answer.excerpt.startswith("<b>xxx")


def test_a_receiver_that_does_not_answer_is_unreachable_not_refused():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(transport.Unreachable, match="did not accept a connection"):
        post(f"http://127.0.0.1:{port}/hook", allow_private=True)


# The two tests below answer name lookups themselves (socket.getaddrinfo, the process's edge to
# DNS): there is no DNS server here to give one name a public and a private address, or a
# different address on the second lookup.


def fake_dns(monkeypatch, name, *answers):
    """`name` resolves to answers[0], then answers[1]...; every other name as before."""
    calls = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        addresses = answers[min(len(calls), len(answers)) - 1]
        family = {True: socket.AF_INET6, False: socket.AF_INET}
        return [(family[":" in a], socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def test_every_address_a_name_resolves_to_must_be_allowed(monkeypatch):
    fake_dns(monkeypatch, "hooks.example.com", ["93.184.216.34", "169.254.169.254"])
    with pytest.raises(transport.Refused, match="hooks.example.com resolves to 169.254.169.254"):
        post("https://hooks.example.com/hook", allow_private=True)


def test_it_connects_to_the_address_it_checked_not_to_a_second_answer(monkeypatch, receiver):
    """DNS rebinding: the first lookup says loopback (allowed here), a second would say metadata."""
    port = int(receiver.url.split(":")[2].split("/")[0])
    calls = fake_dns(monkeypatch, "rebind.example.com", ["127.0.0.1"], ["169.254.169.254"])
    answer = post(f"http://rebind.example.com:{port}/hook", allow_private=True)
    assert (answer.status, answer.address, calls) == (200, "127.0.0.1", ["rebind.example.com"])
    assert receiver.requests[0].headers["Host"] == f"rebind.example.com:{port}"
