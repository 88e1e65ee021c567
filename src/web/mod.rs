//! The server-rendered web UI: HTML pages built with maud, syntax highlighting with syntect,
//! and the stylesheet. The pages need no JavaScript.

pub mod highlight;
