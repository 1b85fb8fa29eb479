-- Places at their true identity (issue 12): each source spelling of a first-level unit resolved to its
-- ISO 3166-2 code and current name, and each admin2 spelling to one normalised name. Filled at refresh
-- time by warehouse/places.py from pycountry and warehouse/places.yml; the incidents view joins them.
CREATE TABLE admin1_places (
    country_iso3 VARCHAR NOT NULL,
    name VARCHAR NOT NULL,          -- as a source writes it ('Khyber Pakhtunkwa Province')
    admin1_code VARCHAR,            -- ISO 3166-2 ('PK-KP'); NULL when it resolves to no subdivision
    admin1_name VARCHAR,            -- the subdivision's current name ('Khyber Pakhtunkhwa')
    PRIMARY KEY (country_iso3, name)
);

CREATE TABLE admin2_places (
    name VARCHAR PRIMARY KEY,       -- as a source writes it ('NWA', 'North Waziristan Agency')
    admin2_norm VARCHAR             -- the name matching compares ('North Waziristan')
);
