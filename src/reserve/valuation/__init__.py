"""Valuation: what the reserve's holdings are worth, how they are carried, and what to watch.

Pure domain, no I/O. ``marks`` values holdings at a day's fix in USD and KZT under the
accounting policy named in configuration (IAS 38 cost or revaluation model, or fair value
through P&L); ``nav`` sums them into each fund's NAV and the reserve's, keeps seized units held
for cases out of it (they are not the state's) and puts them in a custodial statement;
``rollforward`` explains a period's change in value so it reconciles to zero exactly;
``realised`` totals disposals; ``alerts`` watches stablecoin pegs, the tenge and flagged fixes.

Every amount of an asset is an ``int`` of base units and every price or value a ``Decimal``,
multiplied and summed exactly (``marks.exact_arithmetic``): valuing lots one by one and adding
them up gives the same figure, to the last digit, as valuing their total.
"""
