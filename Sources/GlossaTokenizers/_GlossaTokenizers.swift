// placeholder until GlossaTokenizers lands
