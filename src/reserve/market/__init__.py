"""The market: daily prices from several sources, the reserve's one daily fix, and USD/KZT.

A price source (a bundled file, an exchange, the National Bank) is read by ``adapters/``; this
package only judges what was read. ``prices`` refuses a bad price file, ``quotes`` turns a
source's closes into what it knew at a cut-off, ``fix`` decides the one value per asset per day
the reserve books and reports at (and says how much to trust it), and ``rates`` answers "how many
tenge per dollar on that day" without ever filling a gap forward. No I/O happens here.
"""
