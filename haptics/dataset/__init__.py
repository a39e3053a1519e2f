"""Datasets: folders of sessions with a label store, taxonomies, review, agreement, curation
and exports.

Reads sessions through `haptics.session`; never touches the loop, devices or processes.
"""
