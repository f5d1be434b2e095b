"""The annual air-quality report (``aqm report annual``).

Rooms: ``source`` reads the database (all the SQL), ``statistics`` and ``assessment``
compute (pure, arrays in), ``limits_in_force`` lays QCVN limits on the days, ``tables``
and ``narrative`` say it in Vietnamese, ``charts``, ``xlsx_annex`` and ``docx_document``
render, ``build`` runs the steps in order.
"""
