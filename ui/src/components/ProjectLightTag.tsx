import { Tag } from 'antd';
import { t } from '../i18n';
import { LIGHT_COLORS, type ProjectLight } from '../projects';

export function ProjectLightTag({ light }: { light: ProjectLight }) {
  return (
    <Tag color={LIGHT_COLORS[light]} data-testid="project-light" data-light={light} className={`light-tag light-${light}`}>
      <span className={`light-dot light-dot-${light}`} />
      {t(`proj.light.${light}`)}
    </Tag>
  );
}
