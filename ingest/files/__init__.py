"""Circular 10/2021/TT-BTNMT files as an input beside MQTT.

``accounts`` (who may log in), ``server`` (pyftpdlib: each station confined to its own
folder, a file handed on only once its upload completed), ``spool`` (files a
Department's own FTP server writes), ``inbox`` (the folders: upload → incoming →
archive), ``processor`` (decode → validate → write, then archive), ``store`` (the one
adapter to ``ingest.writer``), ``naming`` (the Circular's file and folder names).
"""
