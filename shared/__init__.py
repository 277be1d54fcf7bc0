"""Machinery that two or more Ladder services share."""
