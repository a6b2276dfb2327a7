"""The face layer: every operation on a face, shared by training, the triplet builder and inference.

One record (:class:`~.face.Face`: box, score, 5 ArcFace keypoints, optional 68 iBUG landmarks),
one analyzer protocol (:class:`~.face.FaceAnalyzer`: RGB uint8 in, faces largest first) with one
dlib and one SCRFD implementation, one FFHQ-crop calibration. Builds only on
``reliableswap.weights``; never imports the rest of ``reliableswap`` or ``supervision``.

- :mod:`.face`: ``Face``, ``FaceAnalyzer``, ``five_from_68``, the RGB input check;
- :mod:`.factory`: ``build_face_analyzer`` (auto/scrfd/dlib), target of ``configs/face_analyzer/``;
- :mod:`.dlib_detector`: dlib HOG/CNN boxes (the downscaled detection);
- :mod:`.dlib_landmarks`: dlib's 68-point shape predictor;
- :mod:`.dlib_analyzer`: ``DlibAnalyzer`` (boxes + 68 landmarks, 5 points derived);
- :mod:`.scrfd`: ``ScrfdAnalyzer`` (SCRFD-500M boxes + 5 keypoints, 68 landmarks on request);
- :mod:`.calibration`: where dlib's box lies in an FFHQ crop, and relative to 5 keypoints;
- :mod:`.fallback`: the logged FFHQ-box fallback for aligned crops without a detection;
- :mod:`.alignment`: the fixed FFHQ crop -> 112 ArcFace crop warp (identity losses and metrics);
- :mod:`.cropping`: FFHQ-aligned crops of faces in full photos, and where they lie for paste-back;
- :mod:`.parsing`: face parsers (landmark polygons, BiSeNet) and the canonical label set;
- :mod:`.color`: linear (mean + covariance) colour transfer between masked regions.
"""
