# ruff: noqa: E501 (feeds as publishers write them, long lines included)
"""Feeds as publishers write them (WordPress, Drupal, Blogger-style Atom, the RSS 2.0 and
RFC 4287 examples, and the odd ones), for comparing lxml's fast path with feedparser's.

Each sample says whether the fast path should read it ("fast") or leave it to feedparser
("declines"); tests/unit/test_fastfeed.py checks both, and that a read gives the same items."""

from __future__ import annotations

from random import Random

FAST, DECLINES = "fast", "declines"

WORDPRESS = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
 xmlns:content="http://purl.org/rss/1.0/modules/content/"
 xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:atom="http://www.w3.org/2005/Atom" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
 xmlns:slash="http://purl.org/rss/1.0/modules/slash/">
<channel>
 <title>Harbor County Public Health &#8211; News</title>
 <atom:link href="https://harborhealth.example.org/feed/" rel="self" type="application/rss+xml" />
 <link>https://harborhealth.example.org</link>
 <description>Protecting the health of Harbor County</description>
 <lastBuildDate>Thu, 19 Nov 2026 16:04:12 +0000</lastBuildDate>
 <language>en-US</language>
 <sy:updatePeriod>hourly</sy:updatePeriod>
 <sy:updateFrequency>1</sy:updateFrequency>
 <generator>https://wordpress.org/?v=6.7</generator>
 <image><url>https://harborhealth.example.org/wp-content/uploads/cropped-logo-32x32.png</url>
  <title>Harbor County Public Health &#8211; News</title>
  <link>https://harborhealth.example.org</link><width>32</width><height>32</height></image>
 <item>
  <title>Flu shots &#038; COVID-19 boosters: free clinics this weekend</title>
  <link>https://harborhealth.example.org/2026/11/19/flu-shots/?utm_source=rss&#038;utm_medium=rss</link>
  <comments>https://harborhealth.example.org/2026/11/19/flu-shots/#respond</comments>
  <dc:creator><![CDATA[Maria Lopez]]></dc:creator>
  <pubDate>Thu, 19 Nov 2026 16:00:00 +0000</pubDate>
  <category><![CDATA[Vaccines]]></category>
  <category><![CDATA[Influenza]]></category>
  <category><![CDATA[Vaccines]]></category>
  <guid isPermaLink="false">https://harborhealth.example.org/?p=4812</guid>
  <description><![CDATA[<p>Free clinics on Saturday &#8230;</p>
<p>The post <a href="https://harborhealth.example.org/2026/11/19/flu-shots/">Flu shots</a> appeared first on <a href="https://harborhealth.example.org">Harbor County</a>.</p>]]></description>
  <content:encoded><![CDATA[<p>Free <strong>flu</strong> clinics on Saturday.</p>
<figure class="wp-block-image"><img decoding="async" width="1024" height="576" src="https://harborhealth.example.org/wp-content/uploads/2026/11/clinic-1024x576.jpg" alt="A nurse" srcset="x 300w" /></figure>
<script>track()</script><p><a href="/clinics/" onclick="x()">Find a clinic</a></p>]]></content:encoded>
  <wfw:commentRss>https://harborhealth.example.org/2026/11/19/flu-shots/feed/</wfw:commentRss>
  <slash:comments>0</slash:comments>
 </item>
 <item>
  <title>Boil-water notice lifted for Eastside</title>
  <link>https://harborhealth.example.org/2026/11/18/boil-water/</link>
  <dc:creator><![CDATA[Newsroom]]></dc:creator>
  <pubDate>Wed, 18 Nov 2026 09:15:00 -0500</pubDate>
  <category><![CDATA[Water]]></category>
  <guid isPermaLink="false">https://harborhealth.example.org/?p=4807</guid>
  <description><![CDATA[Residents may use tap water again.]]></description>
  <content:encoded><![CDATA[<p>Residents may use tap water again.</p>]]></content:encoded>
 </item>
</channel></rss>"""

DRUPAL = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xml:base="https://www.countyhealth.example.gov/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>County Health: Press releases</title>
    <link>https://www.countyhealth.example.gov/</link>
    <description/>
    <language>en</language>
    <atom:link href="https://www.countyhealth.example.gov/rss.xml" rel="self" type="application/rss+xml"/>
    <item>
  <title>Measles exposure at Central Station</title>
  <link>/news/measles-exposure-central-station</link>
  <description>&lt;span&gt;Measles exposure&lt;/span&gt;
&lt;div class=&quot;field&quot;&gt;&lt;p&gt;People who were at &lt;a href=&quot;/places/central&quot;&gt;Central Station&lt;/a&gt; on Nov. 3 should check their immunity.&lt;/p&gt;&lt;/div&gt;</description>
  <pubDate>Tue, 17 Nov 2026 14:30:00 +0000</pubDate>
  <dc:creator>jsmith</dc:creator>
  <guid isPermaLink="false">1842 at https://www.countyhealth.example.gov</guid>
  <category domain="https://www.countyhealth.example.gov/topics/measles">Measles</category>
  <category domain="https://www.countyhealth.example.gov/topics/alerts">Health alerts</category>
    </item>
    <item>
  <title>Extreme heat: cooling centres open</title>
  <link>news/cooling-centres</link>
  <description>&lt;p&gt;Open daily.&lt;/p&gt;</description>
  <pubDate>Mon, 16 Nov 2026 08:00:00 +0000</pubDate>
  <dc:creator>Newsroom</dc:creator>
  <guid>https://www.countyhealth.example.gov/node/1839</guid>
    </item>
  </channel>
</rss>"""

BLOGGER_SIMPLE = """<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'
 xmlns:media='http://search.yahoo.com/mrss/' xmlns:thr='http://purl.org/syndication/thread/1.0'
 xml:lang='en_GB'><id>tag:blogger.com,1999:blog-512</id><updated>2026-11-19T10:02:11.416-08:00</updated>
<category term="epidemiology"/><title type='text'>Field Notes in Epidemiology</title>
<subtitle type='html'>Short notes &amp;amp; long reads</subtitle>
<link rel='http://schemas.google.com/g/2005#feed' type='application/atom+xml' href='https://fieldnotes.example.com/feeds/posts/default'/>
<link rel='alternate' type='text/html' href='https://fieldnotes.example.com/'/>
<author><name>Dr. K. Mensah</name><uri>https://www.example.com/profile/1</uri><email>noreply@example.com</email></author>
<generator version='7.00' uri='http://www.blogger.com'>Blogger</generator>
<entry><id>tag:blogger.com,1999:blog-512.post-77</id><published>2026-11-18T07:30:00.001-08:00</published>
<updated>2026-11-18T07:31:52.845-08:00</updated><category scheme="http://www.blogger.com/atom/ns#" term="Surveillance"/>
<category scheme="http://www.blogger.com/atom/ns#" term="Wastewater"/><title type='text'>Reading wastewater signals</title>
<content type='html'>&lt;p&gt;Wastewater &lt;b&gt;surveillance&lt;/b&gt; shows a rise.&lt;/p&gt;&lt;img src="//blogger.example.com/img/w.png" width="1200"&gt;</content>
<link rel='replies' type='text/html' href='https://fieldnotes.example.com/2026/11/reading.html#comment-form' title='0 Comments'/>
<link rel='edit' type='application/atom+xml' href='https://www.blogger.com/feeds/512/posts/default/77'/>
<link rel='self' type='application/atom+xml' href='https://www.blogger.com/feeds/512/posts/default/77'/>
<link rel='alternate' type='text/html' href='https://fieldnotes.example.com/2026/11/reading.html' title='Reading wastewater signals'/>
<author><name>Dr. K. Mensah</name><uri>https://www.example.com/profile/1</uri><email>noreply@example.com</email></author>
<media:thumbnail url="https://blogger.example.com/img/s72-c/w.png" height="72" width="72"/></entry>
</feed>"""

# Blogger's own: gd:image inside the author, thr:total, openSearch at the top.
BLOGGER_FULL = BLOGGER_SIMPLE.replace(
    "xml:lang='en_GB'>",
    "xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/' "
    "xmlns:gd='http://schemas.google.com/g/2005' xml:lang='en_GB'>"
    "<openSearch:totalResults>1</openSearch:totalResults>",
).replace(
    "<media:thumbnail",
    "<thr:total>0</thr:total><media:thumbnail",
)

RFC4287_SIMPLE = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Example Feed</title>
  <link href="http://example.org/"/>
  <updated>2003-12-13T18:30:02Z</updated>
  <author><name>John Doe</name></author>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <entry>
    <title>Atom-Powered Robots Run Amok</title>
    <link href="http://example.org/2003/12/13/atom03"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <updated>2003-12-13T18:30:02Z</updated>
    <summary>Some text.</summary>
  </entry>
</feed>"""

RFC4287_EXTENSIVE = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="text">dive into mark</title>
  <subtitle type="html">A &lt;em&gt;lot&lt;/em&gt; of effort went into making this effortless</subtitle>
  <updated>2005-07-31T12:29:29Z</updated>
  <id>tag:example.org,2003:3</id>
  <link rel="alternate" type="text/html" hreflang="en" href="http://example.org/"/>
  <link rel="self" type="application/atom+xml" href="http://example.org/feed.atom"/>
  <rights>Copyright (c) 2003, Mark Pilgrim</rights>
  <generator uri="http://www.example.com/" version="1.0">Example Toolkit</generator>
  <entry>
    <title>Atom draft-07 snapshot</title>
    <link rel="alternate" type="text/html" href="http://example.org/2005/04/02/atom"/>
    <link rel="enclosure" type="audio/mpeg" length="1337" href="http://example.org/audio/ph34r_my_podcast.mp3"/>
    <id>tag:example.org,2003:3.2397</id>
    <updated>2005-07-31T12:29:29Z</updated>
    <published>2003-12-13T08:29:29-04:00</published>
    <author><name>Mark Pilgrim</name><uri>http://example.org/</uri><email>f8dy@example.com</email></author>
    <contributor><name>Sam Ruby</name></contributor>
    <content type="xhtml" xml:lang="en" xml:base="http://diveintomark.org/">
      <div xmlns="http://www.w3.org/1999/xhtml"><p><i>[Update: The Atom draft is finished.]</i></p></div>
    </content>
  </entry>
</feed>"""


def _rss(items: str, channel: str = "", head: str = '<?xml version="1.0" encoding="utf-8"?>\n',
         root: str = "") -> str:  # fmt: skip
    return (
        f'{head}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:media="http://search.yahoo.com/mrss/" '
        f'xmlns:content="http://purl.org/rss/1.0/modules/content/"{root}><channel>'
        f"<title>T</title><link>https://news.example.org/</link>{channel}{items}</channel></rss>"
    )


ODD_RSS = _rss(
    "<item><title>No date, no link</title><guid>https://news.example.org/p/1</guid></item>"
    "<item><title>  Spaces\n around  </title><link> https://news.example.org/p/2#x </link>"
    "<pubDate>2026-11-20</pubDate></item>"
    "<item><title>EST date</title><link>https://news.example.org/p/3</link>"
    "<pubDate>Fri, 20 Nov 2026 10:00:00 EST</pubDate></item>"
    "<item><title>Words</title><link>https://news.example.org/p/4</link>"
    "<pubDate>Friday, November 20, 2026</pubDate></item>"
    "<item><title>Garbage date</title><link>https://news.example.org/p/5</link>"
    "<pubDate>yesterday</pubDate></item>"
    "<item><title>1900</title><link>https://news.example.org/p/6</link>"
    "<pubDate>Mon, 01 Jan 1900 00:00:00 GMT</pubDate></item>"
    "<item><title>Future</title><link>https://news.example.org/p/7</link>"
    "<pubDate>Mon, 01 Jan 2091 00:00:00 GMT</pubDate></item>"
    "<item><title>2-digit year</title><link>https://news.example.org/p/8</link>"
    "<pubDate>Fri, 20 Nov 26 10:00:00 +0100</pubDate></item>"
    "<item><link>https://news.example.org/p/9?a=1&amp;amp;b=2&amp;utm_source=x</link>"
    "<description>no title</description></item>"
    "<item><description>neither title nor link</description></item>"
    '<item><guid isPermaLink="true">/relative/10</guid><title>guid as link</title></item>'
    '<item><guid isPermaLink="false">https://news.example.org/p/11</guid><title>not a link'
    "</title></item>"
    "<item><link/><guid>https://news.example.org/p/12</guid><title>empty link</title></item>"
    "<item><title>Caf\u00c3\u00a9 &#147;quoted&#148; &amp;amp; &lt;b&gt;bold&lt;/b&gt;</title>"
    "<link>https://news.example.org/p/13</link><author>press@news.example.org (Press Office)"
    "</author></item>"
    "<item><title><![CDATA[CDATA <em>title</em> & more]]></title>"
    "<link>https://news.example.org/p/14</link>"
    '<media:content url="https://news.example.org/v.mp4" medium="video"/>'
    '<media:content url="/img/14.jpg" medium="image" type="IMAGE/JPEG"/>'
    '<enclosure url="https://news.example.org/a.mp3" type="audio/mpeg" length="1"/></item>'
    "<item><title>Thumb and enclosure</title><link>https://news.example.org/p/15</link>"
    '<enclosure url="https://news.example.org/e.png" type="Image/PNG" length="1"/>'
    '<media:thumbnail url="https://news.example.org/t.png"/>'
    "<content:encoded>&lt;p&gt;full&lt;/p&gt;</content:encoded>"
    "<description>short</description></item>"
    "<item><title>Empty summary</title><link>https://news.example.org/p/16</link>"
    "<description></description><category></category><category>  Lead </category></item>",
    channel="<language>en_us</language>",
)

NO_DECLARATION = "\ufeff" + _rss(
    "<item><title>BOM, no declaration</title><link>https://news.example.org/b</link></item>",
    head="",
)
ROOT_LANG = _rss("<item><title>x</title><link>/x</link></item>", root=' xml:lang="de"', channel="")
ATOM_BASE = """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"
 xml:base="https://blog.example.net/news/"><title type="html">A &amp;amp; B</title>
<entry><title type="html">&lt;i&gt;Relative&lt;/i&gt; links</title>
<link href="2026/11/post.html"/><link rel="enclosure" type="Image/JPEG" href="../img/p.jpg"/>
<id>https://blog.example.net/news/2026/11/post.html</id><updated>2026-11-20T10:00:00+01:00</updated>
<summary type="html">&lt;a href="more.html"&gt;more&lt;/a&gt;</summary></entry>
<entry><title>Id as link</title><id>https://blog.example.net/p/2</id>
<author><email>desk@example.net</email></author><published>2026-11-19</published>
<content type="text">Plain &lt;text&gt; content</content><summary>ignored</summary></entry>
<entry><title>No alternate</title><link rel="related" href="https://else.example.net/"/>
<id>urn:x:3</id><category term="A" label="a"/><category term="A" label="a"/><category term=""/>
<author><name>Only name</name></author></entry>
</feed>"""

DECLINED = {
    "rss 0.91": '<rss version="0.91"><channel><title>T</title><item><title>A</title>'
    "<link>https://x.example.org/a</link></item></channel></rss>",
    "rss 1.0 rdf": '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    'syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>T</title>'
    '</channel><item rdf:about="https://x.example.org/a"><title>A</title></item></rdf:RDF>',
    "latin-1": '<?xml version="1.0" encoding="iso-8859-1"?>'
    + _rss("<item><title>A</title></item>", head=""),
    "ill-formed": _rss("<item><title>Fish & chips</title></item>"),
    "html entity": _rss("<item><title>A&nbsp;B</title></item>"),
    "unknown namespace": _rss(
        '<item><title>A</title><post-id xmlns="com-wordpress:feed-additions:1">1</post-id></item>'
    ),
    "atom link in rss item": _rss(
        '<item><title>A</title><atom:link xmlns:atom="http://www.w3.org/2005/Atom" '
        'href="https://x.example.org/a"/></item>'
    ),
    "xml:base on an item": _rss(
        '<item xml:base="https://x.example.org/"><title>A</title><link>a</link></item>'
    ),
    "two titles": _rss("<item><title>A</title><title>B</title></item>"),
    "dc:date": _rss("<item><title>A</title><dc:date>2026-11-20</dc:date></item>"),
    "media:description": _rss(
        "<item><title>A</title><media:description>d</media:description></item>"
    ),
    "markup in a title": _rss("<item><title>A <b>b</b></title></item>"),
    "prefix remapped": _rss(
        '<item><title>A</title><content:creator xmlns:content="http://purl.'
        'org/dc/elements/1.1/">X</content:creator></item>'
    ),
    "base64 content": RFC4287_SIMPLE.replace("<summary>", '<summary mode="base64">'),
    "rfc 4287 xhtml content": RFC4287_EXTENSIVE,
    "blogger with gd:image and openSearch": BLOGGER_FULL,
    "comment in an item": _rss("<item><title>A</title><!-- x --></item>"),
    "utf-16": "",  # filled below
}

FEEDS: dict[str, tuple[str, bytes]] = {
    "wordpress": (FAST, WORDPRESS.encode()),
    "drupal with xml:base": (FAST, DRUPAL.encode()),
    "blogger-style atom": (FAST, BLOGGER_SIMPLE.encode()),
    "rfc 4287 simple": (FAST, RFC4287_SIMPLE.encode()),
    "odd rss": (FAST, ODD_RSS.encode()),
    "bom without declaration": (FAST, NO_DECLARATION.encode()),
    "xml:lang on rss": (FAST, ROOT_LANG.encode()),
    "atom with xml:base": (FAST, ATOM_BASE.encode()),
}
FEEDS |= {name: (DECLINES, body.encode("latin-1" if name == "latin-1" else "utf-8"))
          for name, body in DECLINED.items() if body}  # fmt: skip
FEEDS["utf-16"] = (DECLINES, b"\xff\xfe" + WORDPRESS.replace("UTF-8", "UTF-16").encode("utf-16-le"))


# ---------------------------------------------------------------- generated feeds

_TEXTS = [
    "Plain words", "  padded  ", "Caf\u00e9 cr\u00e8me", "Caf\u00c3\u00a9", "&amp; escaped &amp;amp;",
    "&lt;p&gt;markup&lt;/p&gt;", "<![CDATA[<p>cdata & <b>bold</b></p>]]>", "&#8220;curly&#8221;",
    "&#147;cp1252&#148;", "", "   ", "\u0928\u092e\u0938\u094d\u0924\u0947", "a\n\nb\tc",
]  # fmt: skip
_LINKS = [
    "https://news.example.org/a?utm_source=rss&amp;id=1", "/relative/path", "relative",
    "http:///three-slashes.example.org/x", "https://news.example.org/a#frag", "", "  ",
    "mailto:desk@example.org", "https://news.example.org/q?a=1&amp;amp;b=2",
]  # fmt: skip
_DATES = [
    "Fri, 20 Nov 2026 10:00:00 GMT", "Fri, 20 Nov 2026 10:00:00 +0530", "20 Nov 2026 10:00 PST",
    "2026-11-20T10:00:00Z", "2026-11-20", "Friday", "", "Thu, 31 Feb 2026 10:00:00 GMT",
    "2026-11-20T10:00:00.123+01:00",
]  # fmt: skip


def generated(seed: int) -> bytes:
    """A random RSS 2.0 or Atom document built from publishers' habits (element order,
    optional fields, odd values); the fast path must read it as feedparser does, or decline."""
    rng = Random(seed)
    atom = rng.random() < 0.4
    base = rng.choice(["", "", ' xml:base="https://base.example.org/dir/"'])
    entries = []
    for _ in range(rng.randint(0, 5)):
        parts = []
        if rng.random() < 0.9:
            kind = rng.choice(["", ' type="html"', ' type="text"']) if atom else ""
            parts.append(f"<title{kind}>{rng.choice(_TEXTS)}</title>")
        if atom:
            for _ in range(rng.randint(0, 3)):
                rel = rng.choice(["", ' rel="alternate"', ' rel="enclosure" type="image/png"',
                                  ' rel="self"', ' rel="alternate" type="application/pdf"'])  # fmt: skip
                parts.append(f'<link{rel} href="{rng.choice(_LINKS)}"/>')
            if rng.random() < 0.8:
                parts.append(f"<id>{rng.choice([*_LINKS, 'urn:x:1', 'tag:a,2026:1'])}</id>")
            for tag in ("published", "updated"):
                if rng.random() < 0.6:
                    parts.append(f"<{tag}>{rng.choice(_DATES)}</{tag}>")
            for tag in ("summary", "content"):
                if rng.random() < 0.6:
                    kind = rng.choice(["", ' type="html"', ' type="text"', ' type="xhtml"'])
                    parts.append(f"<{tag}{kind}>{rng.choice(_TEXTS)}</{tag}>")
            if rng.random() < 0.5:
                name = rng.choice(
                    ["", "<name>Ann</name>", "<name>Ann</name><email>a@x.org</email>"]
                )
                parts.append(f"<author>{name}</author>")
            for _ in range(rng.randint(0, 2)):
                parts.append(f'<category term="{rng.choice(["Lead", "Heat", ""])}"/>')
        else:
            if rng.random() < 0.8:
                parts.append(f"<link>{rng.choice(_LINKS)}</link>")
            if rng.random() < 0.7:
                perma = rng.choice(["", ' isPermaLink="false"', ' isPermaLink="true"'])
                parts.append(f"<guid{perma}>{rng.choice([*_LINKS, '42 at site'])}</guid>")
            if rng.random() < 0.7:
                parts.append(f"<pubDate>{rng.choice(_DATES)}</pubDate>")
            for tag in ("description", "content:encoded"):
                if rng.random() < 0.6:
                    parts.append(f"<{tag}>{rng.choice(_TEXTS)}</{tag}>")
            if rng.random() < 0.5:
                tag = rng.choice(["author", "dc:creator"])
                parts.append(f"<{tag}>{rng.choice(_TEXTS)}</{tag}>")
            for _ in range(rng.randint(0, 3)):
                parts.append(f"<category>{rng.choice(_TEXTS)}</category>")
            if rng.random() < 0.3:
                parts.append(f'<media:content url="{rng.choice(_LINKS)}" '
                             f'medium="{rng.choice(["image", "video"])}"/>')  # fmt: skip
            if rng.random() < 0.3:
                parts.append(f'<enclosure url="{rng.choice(_LINKS)}" type="image/jpeg"/>')
        rng.shuffle(parts)
        entries.append(("<entry>" if atom else "<item>") + "".join(parts)
                       + ("</entry>" if atom else "</item>"))  # fmt: skip
    if atom:
        body = (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
                f'{base}><title>{rng.choice(_TEXTS)}</title>{"".join(entries)}</feed>')  # fmt: skip
    else:
        body = _rss("".join(entries), channel=f"<language>{rng.choice(['en', ''])}</language>",
                    root=base)  # fmt: skip
    return body.encode()
